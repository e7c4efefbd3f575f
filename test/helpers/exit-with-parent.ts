// Preloaded into every helper process startChild starts: when the test process that started it
// goes away (a test timed out, its worker was killed), the IPC channel closes and so does this
// process. A timed-out run once left five fleet processes working on for twenty minutes, loading
// the machine under the runs after it.
if (process.connected) process.once('disconnect', () => process.exit(70));
