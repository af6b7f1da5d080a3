import * as zlib from 'zlib';

/** CRC-32 as PNG chunks use it. */
function crc32(bytes: Buffer): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(kind: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(kind, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A valid 1x1 PNG carrying `card` as a TavernAI/SillyTavern `chara` chunk. */
export function cardPng(card: object): Buffer {
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  const idat = zlib.deflateSync(Buffer.from([0, 200, 120, 40]));
  const text = Buffer.concat([Buffer.from('chara\0', 'latin1'), Buffer.from(Buffer.from(JSON.stringify(card)).toString('base64'), 'latin1')]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('tEXt', text),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const v2Card = {
  spec: 'chara_card_v2',
  spec_version: '2.0',
  data: {
    name: 'Seraphina',
    description: '{{char}} is a forest guardian.',
    personality: 'gentle',
    scenario: '{{user}} wakes up in her glade.',
    first_mes: '*She smiles.* You are awake at last.',
    mes_example: '<START>\n{{user}}: Who are you?\n{{char}}: A guardian.',
    creator_notes: 'Be kind.',
    system_prompt: '',
    post_history_instructions: 'Stay in character.',
    alternate_greetings: ['*She hums a song.* Hello, traveller.'],
    character_book: { entries: [] },
    tags: ['fantasy'],
    creator: 'e2e',
    character_version: '1.0',
    extensions: {},
  },
};
