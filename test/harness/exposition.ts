/** The Prometheus text format read back: families with their type and every sample's labels. */
export interface Family {
  type: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

function parsedLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    labels[match[1] ?? ""] = (match[2] ?? "").replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

export function parsedExposition(body: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of body.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) {
      families.set(type[1], { type: type[2], samples: [] });
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample?.[1] || line.startsWith("#")) continue;
    const family = families.get(sample[1]);
    if (family) family.samples.push({ labels: parsedLabels(sample[2] ?? ""), value: Number(sample[3]) });
  }
  return families;
}
