/** How nodemailer reads an address field: the one parser both the sender and the validation use. */
import addressparser from 'nodemailer/lib/addressparser/index.js';

/** Recipients `value` stands for, as nodemailer reads it (groups flattened, empty entries dropped). */
export function recipients(value: string): string[] {
  return addressparser(value, { flatten: true })
    .map((a) => a.address)
    .filter((a) => a !== '');
}

export { addressparser };
