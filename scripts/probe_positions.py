"""Can a checkpoint's image tokens tell WHERE the anomaly is? A linear probe (issue 30).

For each row of a dataset's two splits, the plot goes through the checkpoint's processor and
vision tower (encoder and merger); each column of merged image tokens covers 1/W of the time
axis. A ridge probe, fit on the train split, scores each column from its tokens (minus the
image's mean token, so a column is read against the rest of its plot) and is judged on the eval
split's anomalous rows: how often its top column overlaps a truth interval, against always
naming the train split's most anomalous column. The same probe on the processor's pixels of
each column separates what the resolution allows from what the tower's features keep.

    python scripts/probe_positions.py runs/demo/tiny-model runs/demo/data --max-pixels 25088
"""

from __future__ import annotations

import argparse

import numpy as np


def plot_frame(image) -> tuple[float, float]:
    """Left and right edges of the plot frame, as shares of the image width: the outermost
    pixel columns that are dark over most of the image height (the axes' spines)."""
    gray = np.asarray(image.convert("L"), dtype=float)
    dark = np.flatnonzero((gray < 100).mean(axis=0) > 0.5)
    return dark[0] / gray.shape[1], dark[-1] / gray.shape[1]


def column_targets(intervals: list, length: int, columns: int, frame: tuple) -> np.ndarray:
    """1 for each of ``columns`` equal slices of the image width whose time range (through the
    plot frame) meets a truth interval."""
    left, right = frame
    edges = (np.linspace(0, 1, columns + 1) - left) / (right - left) * length
    return np.array(
        [any(s < edges[c + 1] and e > edges[c] for s, e in intervals) for c in range(columns)],
        dtype=float,
    )


def features(model, processor, image) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per column: the merged tokens and the processor's pixels, each minus the image mean;
    and the tokens as they are, ``[token, feature]`` in raster order."""
    import torch

    inputs = processor.image_processor(images=[image], return_tensors="pt")
    grid = inputs["image_grid_thw"]
    with torch.no_grad():
        tokens = model.model.get_image_features(inputs["pixel_values"], grid).pooler_output[0]
    merge = model.model.visual.spatial_merge_size
    height, width = int(grid[0, 1]) // merge, int(grid[0, 2]) // merge
    raw = tokens.numpy()
    tokens = raw.reshape(height, width, -1)
    tokens = tokens - tokens.mean(axis=(0, 1))
    per_column = tokens.transpose(1, 0, 2).reshape(width, -1)
    patches = inputs["pixel_values"].numpy().reshape(height, merge, width, merge, -1)
    pixels = patches.transpose(2, 0, 1, 3, 4).reshape(width, -1)
    return per_column, pixels - pixels.mean(axis=0), raw, width


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    x1 = np.hstack([x, np.ones((len(x), 1))])
    return np.linalg.solve(x1.T @ x1 + alpha * np.eye(x1.shape[1]), x1.T @ y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--max-pixels", type=int, default=25088)
    parser.add_argument("--min-pixels", type=int, default=3136)
    parser.add_argument("--alpha", type=float, default=10.0)
    args = parser.parse_args()

    from anomseer.dataset_loading import load_split
    from anomseer.modeling import load_model_and_processor

    model, processor = load_model_and_processor(
        args.model, dtype="float32", min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    model.eval()
    data = {}
    for split in ("train", "eval"):
        rows = [r for r in load_split(args.data, split) if r["intervals"]]
        xs_tok, xs_pix, xs_raw, ys = [], [], [], []
        for row in rows:
            tok, pix, raw, width = features(model, processor, row["image"])
            xs_tok.append(tok)
            xs_pix.append(pix)
            xs_raw.append(raw)
            frame = plot_frame(row["image"])
            ys.append(column_targets(row["intervals"], row["length"], width, frame))
        data[split] = (np.stack(xs_tok), np.stack(xs_pix), np.stack(ys), np.stack(xs_raw))
    train_y, eval_y = data["train"][2], data["eval"][2]
    rows, width = eval_y.shape
    constant = int(train_y.mean(axis=0).argmax())
    print(f"columns of merged tokens: {width}; eval anomalous rows: {rows}")
    print(f"chance a random column is anomalous: {eval_y.mean():.3f}")
    print(f"always column {constant} (train's most anomalous): {eval_y[:, constant].mean():.3f}")
    for name, index in (("merged tokens", 0), ("pixels", 1)):
        x_train, x_eval = data["train"][index], data["eval"][index]
        w = ridge(x_train.reshape(-1, x_train.shape[-1]), train_y.reshape(-1), args.alpha)
        flat = x_eval.reshape(-1, x_eval.shape[-1])
        scores = (np.hstack([flat, np.ones((len(flat), 1))]) @ w).reshape(rows, width)
        hit = eval_y[np.arange(rows), scores.argmax(axis=1)].mean()
        print(
            f"probe on {name} ({x_train.shape[-1]} features per column): top column hit {hit:.3f}"
        )
    # absolute position from a token's own features: ridge to its column, R^2 on the eval split
    raw_train, raw_eval = data["train"][3], data["eval"][3]
    column = np.arange(raw_train.shape[1]) % width
    w = ridge(raw_train.reshape(-1, raw_train.shape[-1]), np.tile(column, len(raw_train)), 1.0)
    flat = raw_eval.reshape(-1, raw_eval.shape[-1])
    truth = np.tile(column, len(raw_eval))
    predicted = np.hstack([flat, np.ones((len(flat), 1))]) @ w
    r2 = 1 - ((predicted - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    print(f"a token's column from its own features: R^2 {r2:.3f}")


if __name__ == "__main__":
    main()
