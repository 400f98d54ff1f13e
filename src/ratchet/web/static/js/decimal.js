// Checks of decimal strings against product increments, without floats (BigInt arithmetic).

export const DECIMAL = /^[0-9]{1,20}(\.[0-9]{1,20})?$/;

function parts(text) {
  const [whole, fraction = ""] = text.split(".");
  return { digits: BigInt(whole + fraction), scale: fraction.length };
}

function scaled(text, scale) {
  const p = parts(text);
  return p.digits * 10n ** BigInt(scale - p.scale);
}

export function compare(a, b) {
  const scale = Math.max(parts(a).scale, parts(b).scale);
  const x = scaled(a, scale);
  const y = scaled(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isMultiple(value, increment) {
  const scale = Math.max(parts(value).scale, parts(increment).scale);
  const step = scaled(increment, scale);
  return step > 0n && scaled(value, scale) % step === 0n;
}

// The problem with one field of an entry, or "" when it is fine.
export function checkAmount(text, name, increment, minimum) {
  const value = text.trim();
  if (!value) return `${name} is required`;
  if (!DECIMAL.test(value)) return `${name} must be a decimal number like 0.0123`;
  if (compare(value, "0") <= 0) return `${name} must be greater than 0`;
  if (increment && !isMultiple(value, increment)) {
    return `${name} must be a multiple of ${increment}`;
  }
  if (minimum && compare(value, minimum) < 0) return `${name} must be at least ${minimum}`;
  return "";
}
