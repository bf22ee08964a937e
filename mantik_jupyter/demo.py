"""``make demo``: submit the quickstart notebook to the local site and follow it to the end."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import MantikError
from .service import RunService

QUICKSTART = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


def main() -> int:
    service = RunService()
    print(f"mantik home: {service.home}")
    print(f"submitting {QUICKSTART} to the local site with lr=0.1, epochs=8 ...", flush=True)
    try:
        run = service.submit(QUICKSTART, site="local", parameters={"lr": 0.1, "epochs": 8},
                             name="quickstart-demo")
        print(f"run {run.id} is {run.state}; its log follows\n", flush=True)
        for chunk in service.follow_logs(run.id):
            sys.stdout.buffer.write(chunk.data)
            sys.stdout.buffer.flush()
        run = service.wait(run.id)
    except MantikError as exc:
        print(f"demo failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"\nrun {run.id} ended {run.state}"
          + (f": {run.reason}" if run.reason else ""))
    print(f"MLflow run {run.mlflow_run_id} in experiment {run.mlflow_experiment_id}. See it with:")
    print(f"  {Path(sys.executable).parent}/mlflow ui --backend-store-uri "
          f"{service.tracker.uri_for_humans} --port 5000   # then open http://127.0.0.1:5000")
    print("More: mantik-jupyter runs | show RUN | logs RUN | files RUN (in .venv/bin)")
    return 0 if run.state == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
