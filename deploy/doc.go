// Package deploy is kubeshark's in-cluster deployment: the Helm chart (hub
// Deployment and Service, worker DaemonSet, ServiceAccounts and RBAC)
// embedded in the binary, rendered and installed or upgraded with the Helm
// Go library (`kubeshark tap --cluster`), removed with everything it made
// (`kubeshark clean`), and the local end of `kubeshark proxy`, which serves
// the in-cluster hub on 127.0.0.1 through the API server.
//
// It sits at the edge of the flow, beside cmd: it knows the chart and the
// Kubernetes API, nothing of capture, dissection or storage. The chart's
// source is chart/kubeshark, usable with the helm CLI as it is.
package deploy
