/**
 * A red-black tree keyed by numbers (block addresses), with floor lookup so that any interior
 * address finds the block that contains it. Classic CLRS algorithm with parent links and a
 * shared black sentinel-free null handling.
 * @internal
 */

/** One tree node. @internal */
export class RBNode<V> {
  left: RBNode<V> | null = null;
  right: RBNode<V> | null = null;
  parent: RBNode<V> | null = null;
  red = true;
  constructor(
    readonly key: number,
    readonly value: V,
  ) {}
}

/** Red-black tree of unique numeric keys. @internal */
export class RBTree<V> {
  root: RBNode<V> | null = null;
  size = 0;

  /** Inserts a key that is not present yet; returns the node. */
  insert(key: number, value: V): RBNode<V> {
    const node = new RBNode(key, value);
    let p: RBNode<V> | null = null;
    let x = this.root;
    while (x) {
      p = x;
      if (key === x.key) throw new Error('RBTree: duplicate key');
      x = key < x.key ? x.left : x.right;
    }
    node.parent = p;
    if (!p) this.root = node;
    else if (key < p.key) p.left = node;
    else p.right = node;
    this.size++;
    this.fixInsert(node);
    return node;
  }

  /** Node with exactly this key, or null. */
  find(key: number): RBNode<V> | null {
    let x = this.root;
    while (x) {
      if (key === x.key) return x;
      x = key < x.key ? x.left : x.right;
    }
    return null;
  }

  /** Value of the node with the greatest key `<= key`, or undefined. */
  floor(key: number): V | undefined {
    let x = this.root;
    let best: RBNode<V> | null = null;
    while (x) {
      if (x.key <= key) {
        best = x;
        x = x.right;
      } else x = x.left;
    }
    return best ? best.value : undefined;
  }

  /** In-order values. */
  values(): V[] {
    const out: V[] = [];
    const walk = (n: RBNode<V> | null): void => {
      while (n) {
        walk(n.left);
        out.push(n.value);
        n = n.right;
      }
    };
    walk(this.root);
    return out;
  }

  /** Removes a node previously returned by insert(). */
  remove(z: RBNode<V>): void {
    let y = z;
    let yRed = y.red;
    let x: RBNode<V> | null;
    let xParent: RBNode<V> | null;
    if (!z.left) {
      x = z.right;
      xParent = z.parent;
      this.transplant(z, z.right);
    } else if (!z.right) {
      x = z.left;
      xParent = z.parent;
      this.transplant(z, z.left);
    } else {
      y = z.right;
      while (y.left) y = y.left;
      yRed = y.red;
      x = y.right;
      if (y.parent === z) {
        xParent = y;
      } else {
        xParent = y.parent;
        this.transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
      }
      this.transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.red = z.red;
    }
    this.size--;
    z.left = z.right = z.parent = null;
    if (!yRed) this.fixRemove(x, xParent);
  }

  /** Checks the red-black invariants; returns the black height (tests). */
  validate(): number {
    const check = (n: RBNode<V> | null, lo: number, hi: number): number => {
      if (!n) return 1;
      if (n.key <= lo || n.key >= hi) throw new Error('RBTree: order violated');
      if (n.red && ((n.left && n.left.red) || (n.right && n.right.red))) throw new Error('RBTree: red-red');
      if (n.left && n.left.parent !== n) throw new Error('RBTree: parent link');
      if (n.right && n.right.parent !== n) throw new Error('RBTree: parent link');
      const a = check(n.left, lo, n.key);
      const b = check(n.right, n.key, hi);
      if (a !== b) throw new Error('RBTree: black height');
      return a + (n.red ? 0 : 1);
    };
    if (this.root && this.root.red) throw new Error('RBTree: red root');
    return check(this.root, -Infinity, Infinity);
  }

  private transplant(u: RBNode<V>, v: RBNode<V> | null): void {
    if (!u.parent) this.root = v;
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    if (v) v.parent = u.parent;
  }

  private rotateLeft(x: RBNode<V>): void {
    const y = x.right!;
    x.right = y.left;
    if (y.left) y.left.parent = x;
    y.parent = x.parent;
    if (!x.parent) this.root = y;
    else if (x === x.parent.left) x.parent.left = y;
    else x.parent.right = y;
    y.left = x;
    x.parent = y;
  }

  private rotateRight(x: RBNode<V>): void {
    const y = x.left!;
    x.left = y.right;
    if (y.right) y.right.parent = x;
    y.parent = x.parent;
    if (!x.parent) this.root = y;
    else if (x === x.parent.right) x.parent.right = y;
    else x.parent.left = y;
    y.right = x;
    x.parent = y;
  }

  private fixInsert(z: RBNode<V>): void {
    while (z.parent && z.parent.red) {
      const p = z.parent;
      const g = p.parent!;
      if (p === g.left) {
        const u = g.right;
        if (u && u.red) {
          p.red = false;
          u.red = false;
          g.red = true;
          z = g;
        } else {
          if (z === p.right) {
            z = p;
            this.rotateLeft(z);
          }
          z.parent!.red = false;
          g.red = true;
          this.rotateRight(g);
        }
      } else {
        const u = g.left;
        if (u && u.red) {
          p.red = false;
          u.red = false;
          g.red = true;
          z = g;
        } else {
          if (z === p.left) {
            z = p;
            this.rotateRight(z);
          }
          z.parent!.red = false;
          g.red = true;
          this.rotateLeft(g);
        }
      }
    }
    this.root!.red = false;
  }

  private fixRemove(x: RBNode<V> | null, parent: RBNode<V> | null): void {
    while (x !== this.root && (!x || !x.red)) {
      if (!parent) break;
      if (x === parent.left) {
        let w = parent.right!;
        if (w.red) {
          w.red = false;
          parent.red = true;
          this.rotateLeft(parent);
          w = parent.right!;
        }
        if ((!w.left || !w.left.red) && (!w.right || !w.right.red)) {
          w.red = true;
          x = parent;
          parent = x.parent;
        } else {
          if (!w.right || !w.right.red) {
            if (w.left) w.left.red = false;
            w.red = true;
            this.rotateRight(w);
            w = parent.right!;
          }
          w.red = parent.red;
          parent.red = false;
          if (w.right) w.right.red = false;
          this.rotateLeft(parent);
          x = this.root;
          parent = null;
        }
      } else {
        let w = parent.left!;
        if (w.red) {
          w.red = false;
          parent.red = true;
          this.rotateRight(parent);
          w = parent.left!;
        }
        if ((!w.left || !w.left.red) && (!w.right || !w.right.red)) {
          w.red = true;
          x = parent;
          parent = x.parent;
        } else {
          if (!w.left || !w.left.red) {
            if (w.right) w.right.red = false;
            w.red = true;
            this.rotateLeft(w);
            w = parent.left!;
          }
          w.red = parent.red;
          parent.red = false;
          if (w.left) w.left.red = false;
          this.rotateRight(parent);
          x = this.root;
          parent = null;
        }
      }
    }
    if (x) x.red = false;
  }
}
