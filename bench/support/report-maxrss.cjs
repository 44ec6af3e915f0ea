// Preloaded with `node --require` where GNU time is missing: writes this process's peak RSS (KiB)
// and CPU time (ms), from getrusage, to $BENCH_MAXRSS_FILE when it exits.
const fs = require('node:fs');
const file = process.env.BENCH_MAXRSS_FILE;
if (file) {
  delete process.env.BENCH_MAXRSS_FILE;
  process.on('exit', () => {
    const u = process.resourceUsage();
    fs.writeFileSync(file, `maxRSS ${u.maxRSS}\nuserMs ${u.userCPUTime / 1000}\nsystemMs ${u.systemCPUTime / 1000}\n`);
  });
}
