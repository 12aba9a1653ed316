//go:build !windows

package spool

import "github.com/agentspool/agentspool/internal/safeio"

// syncDir makes a rename into dir durable: without it a crash can lose the
// directory entry even though the file's data was fsynced. A variable, so
// tests can make it fail.
var syncDir = realSyncDir

var realSyncDir = safeio.SyncDir
