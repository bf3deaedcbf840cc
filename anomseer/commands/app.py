"""Serve a local web page (Gradio, the `app` extra) that asks one backend about one series:
upload or paste a CSV, see the label-free plot the model is given, and get its answer drawn on
the series with the reasoning. Binds 127.0.0.1 unless --host says otherwise; files over
--max-upload-kb are refused."""

from __future__ import annotations

import argparse
import os

NAME = "app"
HELP = "serve a local web page that answers about an uploaded CSV series"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from anomseer.commands.eval import BACKEND_CHOICES

    parser.add_argument("--backend", required=True, choices=BACKEND_CHOICES)
    parser.add_argument(
        "--model", help="checkpoint folder or hub id (vllm, hf); served model name (openai)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument(
        "--max-upload-kb", type=int, default=1000, help="largest CSV accepted, in kB"
    )


def run(args: argparse.Namespace) -> int:
    from anomseer.errors import UserInputError

    if args.max_upload_kb < 1:
        raise UserInputError(f"--max-upload-kb must be at least 1, got {args.max_upload_kb}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local app reports nothing
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UserInputError(
            "the app needs Gradio: install the app extra (pip install 'anomseer[app]')"
        ) from None
    from anomseer.app import serve
    from anomseer.evaluation.backends import load_backend

    backend = load_backend(args.backend, args.model)
    print(f"serving the {args.backend} backend on http://{args.host}:{args.port}", flush=True)
    serve(backend, args.host, args.port, args.max_upload_kb * 1000)
    return 0
