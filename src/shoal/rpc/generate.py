"""Regenerate the protobuf and gRPC modules beside the .proto files (`make proto`).

The .proto files live in src/shoal/rpc/ and are compiled with `src/` as the include root, so
protoc names them `shoal/rpc/X.proto` and writes `from shoal.rpc import X_pb2` imports: no
post-processing. The generated modules are committed, so running Shoal needs no grpcio-tools;
tests/unit/rpc/test_generated.py checks they match the .proto files.

Usage: python -m shoal.rpc.generate [OUTPUT_ROOT]   (default: the src/ this file is in)
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

#: The directory that holds the `shoal` package: protoc's include root.
SOURCE_ROOT = Path(__file__).resolve().parents[2]
#: The contract, in dependency order.
PROTO_FILES = (
    "common.proto",
    "descriptor.proto",
    "admin.proto",
    "internal.proto",
    "locator.proto",
)


def generate(output_root: Path = SOURCE_ROOT) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py under output_root/shoal/rpc/; return them."""
    # Imported here: grpcio-tools is a build-time tool, not a runtime dependency.
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    protos = [f"shoal/rpc/{name}" for name in PROTO_FILES]
    output_root.mkdir(parents=True, exist_ok=True)
    arguments = [
        "grpc_tools.protoc",
        f"-I{SOURCE_ROOT}",
        f"-I{well_known}",
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
        *protos,
    ]
    status = protoc.main(arguments)
    if status != 0:
        raise SystemExit(f"protoc failed (exit {status}) on {', '.join(protos)}")
    out = output_root / "shoal" / "rpc"
    return sorted(
        out / f"{Path(name).stem}{suffix}"
        for name in PROTO_FILES
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else SOURCE_ROOT
    for path in generate(root):
        print(path)


if __name__ == "__main__":
    main()
