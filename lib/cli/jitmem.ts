#!/usr/bin/env node
/**
 * The `jitmem` command line (`npx jitmem doctor`).
 *
 * ```
 * jitmem doctor [--json]   explain this host's executable-memory options and prove each one
 * jitmem --version | --help
 * ```
 * Exit codes: 0 executable memory is available, 1 none can be had, 2 usage error.
 * @packageDocumentation
 */

/** Usage text printed by `--help` and on usage errors. */
export const USAGE = `Usage: jitmem <command> [options]

Commands:
  doctor [--json]   Explain what this host allows a JIT to do (RWX, dual mapping, MAP_JIT,
                    large pages, external buffers), prove each strategy by running generated
                    code, and show which strategy JitAllocator picks.
                    --json prints a machine-readable report.
                    Exit code 0 when executable memory is available, 1 when none can be had.

Options:
  -h, --help        Show this help
  -v, --version     Show the jitmem version
`;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): number {
  const args = [...argv];
  if (args.length === 0 || args.includes('-h') || args.includes('--help') || args[0] === 'help') {
    out(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  if (args[0] === '-v' || args[0] === '--version') {
    // Loaded lazily: --help and --version work even where the addon cannot load.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const pkg = require('../../package.json') as { version: string };
    out(`${pkg.version}\n`);
    return 0;
  }
  const [command, ...rest] = args;
  if (command !== 'doctor') {
    err(`jitmem: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  let json = false;
  for (const a of rest) {
    if (a === '--json') json = true;
    else {
      err(`jitmem doctor: unknown option '${a}'\n\n${USAGE}`);
      return 2;
    }
  }
  let doctor: typeof import('./doctor');
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    doctor = require('./doctor') as typeof import('./doctor');
  } catch (e) {
    // The addon itself failed to load: no executable memory through jitmem at all.
    const message = e instanceof Error ? e.message : String(e);
    if (json) out(JSON.stringify({ ok: false, error: `cannot load the jitmem addon: ${message}` }, null, 2) + '\n');
    else err(`jitmem doctor: cannot load the jitmem native addon:\n  ${message}\nRun \`npm rebuild jitmem\` (needs a C++ toolchain) or install a prebuilt binary.\n`);
    return 1;
  }
  const report = doctor.runDoctor();
  out(json ? JSON.stringify(report, null, 2) + '\n' : doctor.formatDoctorReport(report));
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
