/**
 * Error codes, named after asmjit's `Error` enum so users of both recognise them.
 */
export type JitErrorCode =
  | 'OutOfMemory'
  | 'InvalidArgument'
  | 'InvalidState'
  | 'TooLarge'
  | 'FeatureNotEnabled'
  | 'FailedToOpenAnonymousMemory'
  | 'ProtectionFailure'
  | 'NotSupported';

/** Extra facts attached when the operating system refused a request. */
export interface JitErrorDetails {
  /** The system call that failed, e.g. `mmap`. */
  syscall?: string;
  /** The errno name, e.g. `EACCES`. */
  errno?: string;
}

/** Every error jitmem throws for bad state or OS refusal (bad argument types throw TypeError). */
export class JitError extends Error {
  /** asmjit-style error code. */
  readonly code: JitErrorCode;
  /** Failing system call, when the OS refused. */
  readonly syscall?: string;
  /** errno name, when the OS refused. */
  readonly errno?: string;

  constructor(code: JitErrorCode, message: string, details?: JitErrorDetails) {
    super(message);
    this.name = 'JitError';
    this.code = code;
    if (details?.syscall) this.syscall = details.syscall;
    if (details?.errno) this.errno = details.errno;
  }
}
