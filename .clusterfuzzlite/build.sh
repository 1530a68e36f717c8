#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script: builds every cargo-fuzz target in fuzz/ and
# copies it to $OUT with its seed corpus ($OUT/<target>_seed_corpus.zip, from
# corpus/<target>/ plus fuzz/regressions/<target>/), dictionary ($OUT/<target>.dict) and
# libFuzzer options ($OUT/<target>.options, from fuzz/options/).
#
# Inside the image $SRC/pgssl is the checkout. To check it without Docker:
#   SRC=$(mktemp -d) OUT=$(mktemp -d) WORK=$(mktemp -d) RUSTC_BOOTSTRAP=1 \
#     PGSSL_SRC=$PWD bash .clusterfuzzlite/build.sh
repo="${PGSSL_SRC:-$SRC/pgssl}"
cd "$repo/fuzz"

# The base image exports the sanitizer flags in RUSTFLAGS; cargo fuzz adds its own.
cargo fuzz build -O --debug-assertions

build_dir="$repo/fuzz/target/x86_64-unknown-linux-gnu/release"
for src in fuzz_targets/*.rs; do
    target="$(basename "$src" .rs)"
    cp "$build_dir/$target" "$OUT/"
    seeds="$WORK/seeds-$target"
    rm -rf "$seeds"
    mkdir -p "$seeds"
    for dir in "$repo/corpus/$target" "$repo/fuzz/regressions/$target"; do
        if [ -d "$dir" ]; then
            cp -R "$dir/." "$seeds/"
        fi
    done
    rm -f "$OUT/${target}_seed_corpus.zip"
    if [ -n "$(ls -A "$seeds")" ]; then
        (cd "$seeds" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
    fi
    if [ -f "$repo/corpus/$target.dict" ]; then
        cp "$repo/corpus/$target.dict" "$OUT/$target.dict"
    fi
    if [ -f "$repo/fuzz/options/$target.options" ]; then
        cp "$repo/fuzz/options/$target.options" "$OUT/$target.options"
    fi
done
