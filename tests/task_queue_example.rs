//! Runs the task-queue example (examples/task_queue.rs) against an in-process broker:
//! every task is done exactly once, by more than one worker, and the task the crashing
//! worker held comes back redelivered and is done by another.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/task_queue.rs"]
mod task_queue;

use std::time::Duration;

use warren_testkit::TestBroker;

#[tokio::test]
async fn every_task_is_done_exactly_once_even_when_a_worker_crashes() {
    let broker = TestBroker::start().await;
    let report = task_queue::run(&broker.uri(), 200, 3, Duration::from_secs(20))
        .await
        .expect("the example runs");
    assert_eq!(report.done_by.len(), 200, "every task done: {report:?}");
    for (task, workers) in &report.done_by {
        assert_eq!(workers.len(), 1, "task {task} done once, not {workers:?}");
        assert_ne!(
            workers[0], "worker-3",
            "the crashing worker completes nothing"
        );
    }
    let crashed = report
        .crashed_holding
        .expect("the crashing worker took a task");
    assert!(
        report.redelivered.contains(&crashed),
        "task {crashed} came back redelivered: {:?}",
        report.redelivered
    );
    let workers: std::collections::BTreeSet<&String> = report.done_by.values().flatten().collect();
    assert_eq!(
        workers.len(),
        2,
        "both healthy workers took tasks: {workers:?}"
    );
}
