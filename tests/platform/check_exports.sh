#!/usr/bin/env bash
# Checks that libdoorstep.so exports exactly the C ABI: every dynamic symbol
# it defines is a ds_ function declared in doorstep.h (versioned DOORSTEP_1),
# plus the version node DOORSTEP_1 itself; and every function the header
# declares is exported. Usage: check_exports.sh LIB HEADER
set -euo pipefail
lib=$1
header=$2
defined=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u)
declared=$(grep -oE '^DS_API [^(]*\b(ds_[a-z0-9_]+)\(' "$header" |
           grep -oE 'ds_[a-z0-9_]+\($' | tr -d '(' | sort -u)
if [ -z "$declared" ]; then
  echo "no DS_API functions found in $header" >&2
  exit 1
fi
bad=0
while read -r sym; do
  [ -z "$sym" ] && continue
  name=${sym%%@*}
  if [ "$sym" = "DOORSTEP_1" ]; then
    continue  # the version node the version script defines
  fi
  if ! grep -qx "$name" <<<"$declared"; then
    echo "unexpected exported symbol: $sym" >&2
    bad=1
  elif [ "$sym" != "$name" ] && [ "${sym#*@}" != "@DOORSTEP_1" ]; then
    echo "symbol with an unexpected version: $sym" >&2
    bad=1
  fi
done <<<"$defined"
exported=$(sed 's/@.*//' <<<"$defined" | grep -v '^DOORSTEP_1$' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then
  echo "declared in doorstep.h but not exported:" $missing >&2
  bad=1
fi
if [ $bad -ne 0 ]; then
  echo "nm -D --defined-only $lib:" >&2
  echo "$defined" >&2
  exit 1
fi
echo "libdoorstep.so exports exactly the $(wc -l <<<"$declared") ds_ functions of doorstep.h"
