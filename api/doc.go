// Package api holds the JSON bodies of the dispatcher's HTTP API
// (/api/status, /api/explain), shared by the server that writes them and
// the clients that read them (dispatcher ctl), so that a client needs
// neither the web framework nor the server.
package api
