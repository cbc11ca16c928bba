//! The `warrenctl` binary; everything lives in the `warren_cli` library.

fn main() -> std::process::ExitCode {
    warren_cli::main()
}
