/** Sizes in words for people (alerts, command output), in binary units with one decimal. */
export function bytesText(value: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Seconds since `started` (a performance.now() reading), to the hundredth. */
export function secondsSince(started: number): number {
  return Math.round((performance.now() - started) / 10) / 100;
}

/** How many times `a` is `b`, in words for people: "982x", "1.02x" (three significant digits). */
export function timesText(a: number, b: number): string {
  return `${Number((a / Math.max(b, 0.001)).toPrecision(3))}x`;
}
