// Pure: whether a failed frr-reload.py run left the configuration in place anyway.
//
// frr-reload.py applies its additions twice: the second pass repeats every line the first pass
// added. FRR 8 refuses a repeated per-neighbor graceful-restart command ("The Graceful Restart
// command used is not valid at this moment"), so any reload that adds or changes one exits 1 with
// "line N: Failure to communicate[13] to bgpd, line:  neighbor … graceful-restart", although the
// first pass applied it. When every refused line stands in the running configuration, the reload
// did what it was asked.

const REFUSAL = /^line \d+: Failure to communicate\[\d+\] to \S+, line: (.+)$/;

/** The lines FRR refused, or undefined when the output holds anything but refusals. */
export function refusedLines(output: string): string[] | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const refused: string[] = [];
  for (const line of lines) {
    const match = REFUSAL.exec(line);
    if (!match) return undefined;
    refused.push(match[1]!.trim());
  }
  return refused.length > 0 ? refused : undefined;
}

/** The reload took effect: it failed only on lines the running configuration already holds. */
export function onlyRepeatsRefused(output: string, runningConfig: string): boolean {
  const refused = refusedLines(output);
  if (!refused) return false;
  const running = new Set(runningConfig.split('\n').map((l) => l.trim()));
  return refused.every((line) => running.has(line));
}
