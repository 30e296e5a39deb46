// Strings: UTF-8, with invalid bytes kept losslessly as lone surrogates U+DC80..U+DCFF (like
// Python's "surrogateescape"), so that a vocabulary copied through read and write keeps its exact
// bytes and two different invalid byte strings never compare equal.

export function decodeGgufString(bytes: Buffer, start: number, end: number): string {
  // Most strings are short ASCII tokens: validating in JavaScript is faster than a native call.
  let i = start;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return bytes.toString('latin1', start, end);
  while (i < end) {
    const length = validUtf8SequenceLength(bytes, i, end);
    if (length === 0) return decodeWithEscapes(bytes, start, end);
    i += length;
  }
  return bytes.toString('utf8', start, end);
}

function decodeWithEscapes(bytes: Buffer, start: number, end: number): string {
  const units: number[] = [];
  let i = start;
  while (i < end) {
    const length = validUtf8SequenceLength(bytes, i, end);
    if (length === 0) {
      units.push(0xdc00 + bytes[i]!);
      i += 1;
      continue;
    }
    const codePoint = length === 1 ? bytes[i]! : decodeCodePoint(bytes, i, length);
    if (codePoint > 0xffff) {
      const v = codePoint - 0x10000;
      units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else {
      units.push(codePoint);
    }
    i += length;
  }
  let text = '';
  for (let k = 0; k < units.length; k += 4096) text += String.fromCharCode(...units.slice(k, k + 4096));
  return text;
}

/** Length of the well-formed UTF-8 sequence at i (WHATWG rules), or 0 when none starts there. */
function validUtf8SequenceLength(b: Uint8Array, i: number, end: number): number {
  const lead = b[i]!;
  if (lead < 0x80) return 1;
  const inRange = (k: number, low: number, high: number): boolean => {
    if (i + k >= end) return false;
    const c = b[i + k]!;
    return c >= low && c <= high;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return inRange(1, 0x80, 0xbf) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return inRange(1, low, high) && inRange(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return inRange(1, low, high) && inRange(2, 0x80, 0xbf) && inRange(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

function decodeCodePoint(b: Uint8Array, i: number, length: number): number {
  let codePoint = b[i]! & (length === 2 ? 0x1f : length === 3 ? 0x0f : 0x07);
  for (let k = 1; k < length; k++) codePoint = (codePoint << 6) | (b[i + k]! & 0x3f);
  return codePoint;
}

/** UTF-8 bytes of a string as the writer stores it (lone U+DC80..U+DCFF become the raw byte again). */
export function encodeGgufString(text: string): Buffer {
  if (!hasLoneSurrogate(text)) return Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out.push(...Buffer.from(text.slice(i, i + 2), 'utf8'));
      i += 1;
    } else if (unit >= 0xdc80 && unit <= 0xdcff) {
      out.push(unit - 0xdc00);
    } else {
      out.push(...Buffer.from(text[i]!, 'utf8')); // other lone surrogates become U+FFFD
    }
  }
  return Buffer.from(out);
}

function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i += 1;
      continue;
    }
    return true;
  }
  return false;
}
