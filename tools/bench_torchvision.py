"""CPU latency, interleaved in one run: zoo on TensorFlow and on JAX vs torchvision eager.

ResNet-50 (torchvision layout) at batch 16 x 224, and SSD300 end to end on one 640x480 image
(resize to 300, forward, post-processing with torchvision's settings). Random weights shared
through .pth files, so all three compute the same network. This process runs torchvision and the
zoo on TensorFlow (torch imported first); a child process (``--worker``, KERAS_BACKEND=jax) holds
the zoo on JAX and times one case per request, so the three take turns round by round and share
the same machine load. Each cell is the median of ``--repeats`` calls; the table gives the median
over ``--rounds`` rounds and the load average before and after.

    python tools/bench_torchvision.py --repeats 5 --rounds 3 --json docs/bench_torchvision.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.modules.setdefault("triton", None)  # torchvision after TensorFlow crashes in triton's C extension
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

CASES = ("resnet50 b16", "ssd300 640x480 e2e")


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(16, 224, 224, 3)).astype("float32")
    image = np.random.default_rng(1).uniform(0, 255, (480, 640, 3)).astype("float32")
    return x, image


def _timed(fn, repeats: int) -> float:
    from zoo.utils.timing import time_call

    return time_call(fn, repeats=repeats, warmup=0)["median_ms"] / 1000.0


def zoo_cases(folder: Path) -> dict:
    """The zoo's two cases on this process's Keras backend, warmed up (compiled)."""
    import keras

    import zoo

    x, image = _inputs()
    r50 = zoo.get("resnet50", weights=str(folder / "r50.pth"))
    ssd = zoo.get("ssd300_vgg16", weights=str(folder / "ssd.pth"))

    def run_ssd():  # resize to 300x300 (as torchvision's transform), forward + post-processing
        small = keras.ops.image.resize(image[None], (300, 300), interpolation="bilinear")
        return ssd.predict_on_batch(small)

    cases = {CASES[0]: lambda: r50.predict_on_batch(x), CASES[1]: run_ssd}
    for fn in cases.values():
        fn()
    return cases


def worker(folder: Path) -> int:
    """Answers ``CASE\\tREPEATS`` lines on stdin with the median seconds on stdout."""
    cases = zoo_cases(folder)
    print("ready", flush=True)
    for line in sys.stdin:
        case, repeats = line.rstrip("\n").split("\t")
        print(_timed(cases[case], int(repeats)), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (torchvision, TF, JAX, ...)")
    p.add_argument("--no-jax", action="store_true", help="skip the JAX child process")
    p.add_argument("--json", help="write the timings here too")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # the JAX child: folder of the .pth files
    args = p.parse_args(argv)
    if args.worker:
        return worker(Path(args.worker))
    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("run the parent on the TensorFlow backend; the JAX side is its child process")
    torch.set_num_threads(os.cpu_count() or 1)
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    ref = torchvision.models.resnet50(weights=None).eval()
    torch.save(ref.state_dict(), folder / "r50.pth")
    det = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None).eval()
    torch.save(det.state_dict(), folder / "ssd.pth")
    x, image = _inputs()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    image_t = torch.from_numpy(image.transpose(2, 0, 1).copy() / 255.0)

    def tv(model, inputs):
        def run():
            with torch.no_grad():
                model(inputs)

        return run

    backends = {"torchvision": {CASES[0]: tv(ref, xt), CASES[1]: tv(det, [image_t])}}
    for fn in backends["torchvision"].values():
        fn()
    backends["zoo tensorflow"] = zoo_cases(folder)
    child = None
    if not args.no_jax:
        env = {**os.environ, "KERAS_BACKEND": "jax"}
        child = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("the JAX worker did not start")

        def remote(case):
            def run():
                child.stdin.write(f"{case}\t{args.repeats}\n")
                child.stdin.flush()
                return float(child.stdout.readline())

            return run

        backends["zoo jax"] = {case: remote(case) for case in CASES}
    times: dict[str, dict[str, list[float]]] = {b: {c: [] for c in CASES} for b in backends}
    for r in range(args.rounds):
        for case in CASES:
            for b, cases in backends.items():
                t = cases[case]() if b == "zoo jax" else _timed(cases[case], args.repeats)
                times[b][case].append(t)
                print(f"round {r} {case:20s} {b:15s} {t:8.3f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    if child is not None:
        child.stdin.close()
        child.wait()
    load_after = os.getloadavg()
    print(
        f"torch threads={torch.get_num_threads()} repeats={args.repeats} rounds={args.rounds} "
        f"load before {load_before} after {load_after}"
    )
    print(f"{'case':20s} " + " ".join(f"{b + ' s':>17s}" for b in backends) + "   zoo/tv (tf, jax)")
    for case in CASES:
        med = {b: statistics.median(times[b][case]) for b in backends}
        ratios = ", ".join(f"{med[b] / med['torchvision']:.2f}" for b in backends if b != "torchvision")
        print(f"{case:20s} " + " ".join(f"{med[b]:17.3f}" for b in backends) + f"   {ratios}")
    if args.json:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(args.json, {"times_s": times, "load_before": load_before, "load_after": load_after,
                                      "repeats": args.repeats, "rounds": args.rounds})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
