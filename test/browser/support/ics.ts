/**
 * Reads an iCalendar file (RFC 5545) as a calendar app would, strictly enough to fail on what an app
 * would choke on: every line ends in CRLF, no line is over 75 octets, continuation lines are unfolded,
 * components open and close in order, and TEXT values are unescaped.
 */
export interface IcsProperty {
  name: string;
  params: Record<string, string>;
  value: string;
}

export interface IcsComponent {
  name: string;
  properties: IcsProperty[];
  components: IcsComponent[];
}

/** The TEXT value of RFC 5545 3.3.11 as written: `\\n` a line break, `\\,` `\\;` `\\\\` the characters. */
export function unescapeText(value: string): string {
  return value.replace(/\\([\\;,nN])/g, (_, ch: string) => (ch === "n" || ch === "N" ? "\n" : ch));
}

export function parseIcs(text: string): IcsComponent {
  if (!text.endsWith("\r\n")) throw new Error("the file does not end with CRLF");
  const physical = text.slice(0, -2).split("\r\n");
  for (const line of physical) {
    if (line.includes("\n") || line.includes("\r")) throw new Error(`a bare line break in ${JSON.stringify(line)}`);
    if (new TextEncoder().encode(line).length > 75) throw new Error(`a line over 75 octets: ${JSON.stringify(line)}`);
  }
  const logical: string[] = [];
  for (const line of physical) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (logical.length === 0) throw new Error("the file starts with a continuation line");
      logical[logical.length - 1] += line.slice(1);
    } else logical.push(line);
  }
  const root: IcsComponent = { name: "", properties: [], components: [] };
  const stack: IcsComponent[] = [root];
  for (const line of logical) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`not a content line: ${JSON.stringify(line)}`);
    const [name, ...paramParts] = line.slice(0, colon).split(";");
    const value = line.slice(colon + 1);
    const upper = name!.toUpperCase();
    const current = stack[stack.length - 1]!;
    if (upper === "BEGIN") {
      const child: IcsComponent = { name: value, properties: [], components: [] };
      current.components.push(child);
      stack.push(child);
    } else if (upper === "END") {
      if (current.name !== value) throw new Error(`END:${value} closes ${current.name || "nothing"}`);
      stack.pop();
    } else {
      const params = Object.fromEntries(paramParts.map((p) => p.split("=") as [string, string]));
      current.properties.push({ name: upper, params, value });
    }
  }
  if (stack.length !== 1) throw new Error(`${stack[stack.length - 1]!.name} is never closed`);
  if (root.components.length !== 1) throw new Error("not one VCALENDAR");
  return root.components[0]!;
}

/** The one value of a property, or an error naming what is missing or repeated. */
export function one(component: IcsComponent, name: string): IcsProperty {
  const found = component.properties.filter((p) => p.name === name);
  if (found.length !== 1) throw new Error(`${component.name} has ${found.length} ${name}`);
  return found[0]!;
}

/** A form-2 UTC DATE-TIME (`20210726T003000Z`) as epoch milliseconds. */
export function utcDateTime(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new Error(`not a UTC DATE-TIME: ${value}`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}
