fn main() -> std::process::ExitCode {
    easd::cli::main()
}
