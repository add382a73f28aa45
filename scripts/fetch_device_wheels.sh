#!/usr/bin/env bash
# Downloads into .whl/ the wheels a GPU machine without a package index needs to run drivesim,
# for `scripts/device_check.sh` (docs/performance.md, "GPU path"). That machine has Python 3.12,
# torch, accelerate, einops, numpy, opencv and grpcio; everything else drivesim imports travels
# as these wheels (about 30 MB): drivesim's own runtime dependencies and theirs, at the versions
# this project is tested with. Not carried: imageio-ffmpeg (a 30 MB ffmpeg binary; the benchmark
# writes no video).
#
#   bash scripts/fetch_device_wheels.sh                  # -> .whl/ for Python 3.12, manylinux x86_64
#   PY_VERSION=3.11 WHEEL_DIR=/tmp/whl bash scripts/fetch_device_wheels.sh   # another Python
#
# .whl/ is ignored by git (this script adds it to .git/info/exclude); name it in the device run's
# `carry`. The script ends by checking that every wheel's own requirements are met by the set or
# by what the GPU machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${WHEEL_DIR:-.whl}
PY_VERSION=${PY_VERSION:-3.12}

WHEELS=(
  # drivesim's runtime dependencies the GPU machine lacks
  diffusers==0.42.1 pydantic==2.14.4 shapely==2.2.0 pyyaml==6.0.4 safetensors==0.8.0 tqdm==4.70.1
  protobuf==7.36.2 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1
  # theirs (and accelerate's, so it imports whatever the machine's own copies are)
  pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
  huggingface-hub==2.4.0 hf-xet==1.8.0 httpx2==2.16.2 httpcore2==2.16.2 anyio==4.16.0 h11==0.16.0
  truststore==0.10.5 click==8.5.1 fsspec==2026.9.0 filelock==4.3.1 packaging==26.4 psutil==7.2.2
  importlib-metadata==10.2.0 zipp==4.1.2 lazy-importer==0.1.0 regex==2026.11.19 pillow==13.0.0
  requests==2.34.2 charset-normalizer==3.5.3 idna==3.20 urllib3==2.8.0 certifi==2026.10.19.post1
)
# Present on the GPU machine (not carried): torch and what it needs, and the packages the issue lists.
PRESENT="torch numpy einops accelerate opencv-python-headless opencv-python grpcio sympy networkx jinja2 markupsafe"

if git rev-parse --git-dir >/dev/null 2>&1 && [ "$DEST" = .whl ]; then
  exclude="$(git rev-parse --git-dir)/info/exclude"
  mkdir -p "$(dirname "$exclude")"
  grep -qxF "/.whl/" "$exclude" 2>/dev/null || echo "/.whl/" >>"$exclude"
fi
mkdir -p "$DEST"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "${WHEELS[@]}"

# Every requirement of every wheel (markers read for Linux x86_64 and this Python) is in the set or present.
PRESENT="$PRESENT" PY_VERSION="$PY_VERSION" python3 - "$DEST" <<'EOF'
import os, sys, zipfile
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

env = {"python_version": os.environ["PY_VERSION"], "python_full_version": os.environ["PY_VERSION"] + ".0",
       "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
wheels = sorted(Path(sys.argv[1]).glob("*.whl"))
have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
have |= {canonicalize_name(n) for n in os.environ["PRESENT"].split()}
missing = []
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if (not req.marker or req.marker.evaluate(env)) and canonicalize_name(req.name) not in have:
                    missing.append(f"{wheel.name} needs {req}")
size = sum(w.stat().st_size for w in wheels) / 2**20
print(f"{len(wheels)} wheels, {size:.1f} MiB in {sys.argv[1]}")
if missing:
    sys.exit("missing requirements:\n  " + "\n  ".join(missing))
EOF
