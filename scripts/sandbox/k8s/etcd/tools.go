//go:build tools

// Package tools pins the upstream main packages so `go mod tidy` keeps their deps.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
