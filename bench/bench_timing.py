"""The timing loop the Python peer benchmarks share (ort_bench.py, openvino_bench.py), so every
runner is measured as bench/engine_bench measures Tessera: per-iteration times after one warm-up,
for at least `seconds` and `min_iters` iterations; the median is the typical figure, the best one
what the machine gives without interference."""
import argparse
import time


def peer_arguments(doc):
    """The options every peer benchmark takes (as bench/engine_bench does); callers add theirs."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="minimum timed seconds per batch size")
    parser.add_argument("--min-iters", type=int, default=3)
    return parser


def time_runs(run, seconds, min_iters):
    """Returns (median seconds, best seconds, iterations) of calling run()."""
    run()  # warm-up
    times, start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= seconds and len(times) >= min_iters:
            break
    times.sort()
    return times[len(times) // 2], times[0], len(times)


def result_line(runner, model, batch, median, best, iterations):
    """The line run_engine_bench.sh parses."""
    return (f"{runner} {model} batch={batch} images_per_s={batch / median:.3f} "
            f"ms_per_image={1000.0 * median / batch:.3f} best_images_per_s={batch / best:.3f} "
            f"iterations={iterations}")
