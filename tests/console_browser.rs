//! The web console in a real browser: Playwright scripts (tests/console/*.mjs) drive
//! Debian's headless chromium against a broker started here, while lapin clients make
//! the traffic the console must show. #[ignore]d for a plain `cargo test` (they need
//! chromium and node); `bash tests/console/run.sh` installs those and runs them, and
//! `.ci/run` runs that. Missing chromium or node fails these tests, never skips them.

use std::time::Duration;

use warren_testkit::browser::run_console_script;
use warren_testkit::TestBroker;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn login_with_a_wrong_and_a_right_password_and_log_out() {
    let broker = TestBroker::start().await;
    let run = run_console_script(&broker.management_url(), "login.mjs", &[], SCRIPT_TIMEOUT).await;
    run.assert_success("login.mjs");
    broker.stop().await;
}
