// Package stats counts downloads: per pool and UTC day, by file, mirror
// and country, in bounded memory, shared by every instance through Redis
// or kept in process without it.
//
// The request path adds to a Counter (one short critical section on one
// of several shards, none shared by all requests). A Recorder takes the
// counts once a second and writes them to a Backend: Redis (a Lua script
// per pool and day, every key of it in one cluster hash slot) or Memory.
// Per pool and day, the first Limits.Files distinct files are counted
// exactly; later ones go to a Space-Saving summary of Limits.Summary
// entries, whose counts are each within its error of the truth; what no
// row names is "other". Totals per day, mirror and country are always
// exact. No client address is kept.
package stats
