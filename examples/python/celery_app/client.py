"""Calls the tasks of tasks.py and checks the answers: plain tasks, a task retried with
a countdown, and an ETA task that must not run early. Exits 1 on a wrong answer."""
import datetime
import sys
import time

from tasks import add, flaky


def main():
    results = [add.delay(i, i) for i in range(20)]
    sums = [r.get(timeout=30) for r in results]
    print("add:", sums)
    retried = flaky.delay(4).get(timeout=30)
    print("flaky after two retries:", retried)
    start = time.monotonic()
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    late = add.apply_async((20, 22), eta=eta).get(timeout=30)
    waited = time.monotonic() - start
    print(f"eta task: {late} after {waited:.1f} s")
    ok = sums == [2 * i for i in range(20)] and retried == 40 and late == 42 and waited >= 0.9
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
