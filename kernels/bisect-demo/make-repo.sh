#!/usr/bin/env bash
# Builds the bisect demo's git repository: Debian's linux-source-6.1 as one commit
# (tag demo-good), then the eight commits of series/ on top (tag demo-bad). Author,
# committer and dates are fixed, so the commit ids are the same on every machine with
# the same tarball (the README's example names the culprit by its id for 6.1.192).
#
# usage: kernels/bisect-demo/make-repo.sh DIR [TARBALL]
set -euo pipefail
dir=${1:?usage: make-repo.sh DIR [TARBALL]}
tarball=${2:-/usr/src/linux-source-6.1.tar.xz}
here=$(cd "$(dirname "$0")" && pwd)
if [ -e "$dir" ]; then echo "make-repo: $dir exists; give a directory that does not" >&2; exit 2; fi
if [ ! -f "$tarball" ]; then echo "make-repo: $tarball is missing: apt-get install linux-source-6.1 (or scripts/setup.sh)" >&2; exit 2; fi

export GIT_AUTHOR_NAME="daxrig demo" GIT_AUTHOR_EMAIL="daxrig@localhost"
export GIT_COMMITTER_NAME="daxrig demo" GIT_COMMITTER_EMAIL="daxrig@localhost"
export GIT_AUTHOR_DATE="2026-11-01T00:00:00Z" GIT_COMMITTER_DATE="2026-11-01T00:00:00Z"

mkdir -p "$dir"
echo "make-repo: extracting $tarball into $dir"
tar -xf "$tarball" --strip-components=1 -C "$dir"
cd "$dir"
git init -q
git config gc.auto 0
echo "make-repo: committing the tree (tag demo-good)"
git add -A -f .
git commit -q -m "Linux 6.1 as Debian's linux-source-6.1 ships it"
git tag demo-good
unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE
git am -q --committer-date-is-author-date "$here"/series/*.patch
git tag demo-bad
git log --oneline --reverse demo-good..demo-bad
