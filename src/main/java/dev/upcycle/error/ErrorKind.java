package dev.upcycle.error;

/**
 * Every named failure the tool reports, with the exit code it maps to. The names are the
 * error names listed in docs/formats.md, "Errors and exit codes" (and the safetensors reference loader), so a
 * user can search for them.
 */
public enum ErrorKind {
    // safetensors container (docs/formats.md, "The safetensors container")
    HeaderTooSmall(ExitCode.BAD_INPUT),
    HeaderTooLarge(ExitCode.BAD_INPUT),
    InvalidHeaderLength(ExitCode.BAD_INPUT),
    InvalidHeaderUtf8(ExitCode.BAD_INPUT),
    InvalidHeaderJson(ExitCode.BAD_INPUT),
    DuplicateTensorName(ExitCode.BAD_INPUT),
    UnknownDtype(ExitCode.BAD_INPUT),
    InvalidTensorInfo(ExitCode.BAD_INPUT),
    InvalidOffset(ExitCode.BAD_INPUT),
    ValidationOverflow(ExitCode.BAD_INPUT),
    TensorInvalidInfo(ExitCode.BAD_INPUT),
    MetadataIncompleteBuffer(ExitCode.BAD_INPUT),
    InvalidMetadata(ExitCode.BAD_INPUT),
    InvalidTensorName(ExitCode.BAD_INPUT),
    TensorNotFound(ExitCode.BAD_INPUT),
    // sharded checkpoints and directories (docs/formats.md, "Sharded checkpoints")
    InvalidIndex(ExitCode.BAD_INPUT),
    UnsafePath(ExitCode.BAD_INPUT),
    MissingShard(ExitCode.BAD_INPUT),
    IndexMismatch(ExitCode.BAD_INPUT),
    AmbiguousCheckpoint(ExitCode.BAD_INPUT),
    UnsupportedPickleCheckpoint(ExitCode.BAD_INPUT),
    NoCheckpoint(ExitCode.BAD_INPUT),
    // config and model description (docs/formats.md, "Source families")
    InvalidConfig(ExitCode.BAD_INPUT),
    UnsupportedArchitecture(ExitCode.BAD_INPUT),
    ConfigConflict(ExitCode.BAD_INPUT),
    ShapeMismatch(ExitCode.BAD_INPUT),
    MissingTensor(ExitCode.BAD_INPUT),
    UnexpectedTensor(ExitCode.BAD_INPUT),
    NonFiniteWeights(ExitCode.BAD_INPUT),
    // numbers (docs/formats.md, "Dtypes")
    DtypeOverflow(ExitCode.BAD_INPUT),
    UnsupportedDtype(ExitCode.BAD_INPUT),
    // recipes (README, "upcycle run")
    InvalidRecipe(ExitCode.BAD_INPUT),
    // inputs of eval, train, sample and report besides the model: data files, tokenizers, and the
    // state a train run left (trainer-state.json, optimizer state, metrics.jsonl, train-config.json)
    InvalidData(ExitCode.BAD_INPUT),
    InvalidTokenizer(ExitCode.BAD_INPUT),
    InvalidRunState(ExitCode.BAD_INPUT),
    // options that cannot be honoured together
    InvalidOption(ExitCode.USAGE),
    ImpossibleCombination(ExitCode.BAD_INPUT),
    // training: the loss became NaN or infinite (a failed check on the run, exit 1)
    NonFiniteLoss(ExitCode.CHECK_FAILED),
    // environment
    IoError(ExitCode.ENVIRONMENT),
    OutOfMemory(ExitCode.ENVIRONMENT),
    OutputExists(ExitCode.ENVIRONMENT),
    OutputLocked(ExitCode.ENVIRONMENT),
    UnsafeOutput(ExitCode.BAD_INPUT);

    private final ExitCode exitCode;

    ErrorKind(ExitCode exitCode) {
        this.exitCode = exitCode;
    }

    public ExitCode exitCode() {
        return exitCode;
    }
}
