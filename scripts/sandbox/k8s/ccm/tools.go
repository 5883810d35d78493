//go:build tools

// Package tools pins the upstream main package so `go mod tidy` keeps its deps.
package tools

import _ "k8s.io/cloud-provider-aws/cmd/aws-cloud-controller-manager"
