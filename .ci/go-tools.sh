#!/usr/bin/env bash
# Builds the Go-built test tools once and caches them: Jaeger v2 (cmd/jaeger) and Prometheus 3
# with promtool (cmd/prometheus, cmd/promtool), from their Go modules through the Go module proxy.
# Usable by hand: `bash .ci/go-tools.sh` (prints where the binaries are). Called by .ci/run.
# `bash .ci/go-tools.sh --locate` builds nothing: it prints the paths of the binaries that are
# there and exits 3 when one is missing (the test suite's fixtures use it to find the tools).
#
# Everything lives under one cache directory, ${TT_TOOLS_CACHE:-$HOME/.cache/trader-telemetry-tools}:
#   go/mod, go/build       GOMODCACHE and GOCACHE
#   <tool>-<version>/      a throwaway module (`go get -tool`) and its bin/ (GOBIN)
# A tool whose binaries for that version are already there is not rebuilt. A failed build exits
# non-zero with the Go toolchain's own error: there is no silent skip.
set -euo pipefail

JAEGER_VERSION="${TT_JAEGER_VERSION:-v1.76.0}"          # its cmd/jaeger is Jaeger v2
PROMETHEUS_MODULE_VERSION="${TT_PROMETHEUS_VERSION:-v0.316.0}"  # module v0.316.0 = Prometheus 3.x

CACHE="${TT_TOOLS_CACHE:-${HOME:-$(echo ~)}/.cache/trader-telemetry-tools}"
case "$CACHE" in /*) ;; *) CACHE="$PWD/$CACHE" ;; esac   # GOBIN must be absolute
JAEGER="$CACHE/jaeger-$JAEGER_VERSION/bin/jaeger"
PROMETHEUS="$CACHE/prometheus-$PROMETHEUS_MODULE_VERSION/bin/prometheus"
PROMTOOL="$CACHE/prometheus-$PROMETHEUS_MODULE_VERSION/bin/promtool"

locate() {
    echo "TT_JAEGER=$JAEGER"
    echo "TT_PROMETHEUS3=$PROMETHEUS"
    echo "TT_PROMTOOL3=$PROMTOOL"
}

if [ "${1:-}" = "--locate" ]; then
    status=0
    while IFS='=' read -r variable binary; do
        if [ -x "$binary" ]; then
            echo "$variable=$binary"
        else
            echo "go-tools: $binary is not built: run bash .ci/go-tools.sh" >&2
            status=3
        fi
    done < <(locate)
    exit "$status"
fi

mkdir -p "$CACHE/go/mod" "$CACHE/go/build"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "go-tools: no Go toolchain on PATH" >&2; exit 1; }

export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOTOOLCHAIN=local   # never download another toolchain: only the module proxy is reachable
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0

# build NAME VERSION PACKAGE... : one throwaway module per tool, so that the two programs'
# dependency graphs are never merged into one.
build() {
    local name="$1" version="$2"
    shift 2
    local dir="$CACHE/$name-$version" missing=0 pkg
    for pkg in "$@"; do
        [ -x "$dir/bin/$(basename "$pkg")" ] || missing=1
    done
    if [ "$missing" -eq 0 ]; then
        echo "go-tools: $name $version already built in $dir/bin" >&2
        return 0
    fi
    echo "go-tools: building $name $version into $dir/bin" >&2
    rm -rf "$dir/module"
    mkdir -p "$dir/module" "$dir/bin"
    (
        cd "$dir/module"
        go mod init "trader-telemetry-tools/$name" >/dev/null 2>&1
        for pkg in "$@"; do
            go get -tool "$pkg@$version"
        done
        GOBIN="$dir/bin" go install tool
    )
}

build jaeger "$JAEGER_VERSION" github.com/jaegertracing/jaeger/cmd/jaeger
build prometheus "$PROMETHEUS_MODULE_VERSION" \
    github.com/prometheus/prometheus/cmd/prometheus \
    github.com/prometheus/prometheus/cmd/promtool

locate
