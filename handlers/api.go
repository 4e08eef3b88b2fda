package handlers

import "github.com/dispatcher/dispatcher/api"

// The bodies of /api/status and /api/explain are package api's: the
// server writes them, clients read them. These names keep the handlers'
// code readable.
type (
	Status          = api.Status
	PoolStatus      = api.PoolStatus
	PoolFiles       = api.PoolFiles
	MirrorFiles     = api.MirrorFiles
	MirrorStatus    = api.MirrorStatus
	RedisStatus     = api.RedisStatus
	WeightFactors   = api.WeightFactors
	Explanation     = api.Explanation
	ExplainedClient = api.ExplainedClient
	ExplainedFile   = api.ExplainedFile
	ExcludedBy      = api.ExcludedBy
	ExplainedMirror = api.ExplainedMirror
	ExplainFactors  = api.ExplainFactors
)
