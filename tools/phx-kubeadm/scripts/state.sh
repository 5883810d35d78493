#!/usr/bin/env bash
# What this node already is, without changing anything: one line
# "initialized=yes|no joined=yes|no" for phx to plan from.
set -euo pipefail
yn() { if [[ -f $1 ]]; then echo yes; else echo no; fi; }
echo "initialized=$(yn /etc/kubernetes/admin.conf) joined=$(yn /etc/kubernetes/kubelet.conf)"
