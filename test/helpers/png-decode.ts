import { crc32, inflateSync } from "node:zlib";

/**
 * Decodes a PNG far enough to prove it whole: signature, every chunk's CRC, IHDR, and the image data
 * inflating to exactly one filter byte plus one row of pixels per line.
 */
export function decodePng(png: Buffer): { width: number; height: number; colorType: number } {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    throw new Error("not a PNG signature");
  }
  let offset = 8;
  let header: { width: number; height: number; depth: number; colorType: number } | undefined;
  const data: Buffer[] = [];
  let ended = false;
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.subarray(offset + 4, offset + 8).toString("latin1");
    const body = png.subarray(offset + 8, offset + 8 + length);
    const crc = png.readUInt32BE(offset + 8 + length);
    if (crc32(png.subarray(offset + 4, offset + 8 + length)) !== crc) throw new Error(`bad CRC in ${type}`);
    if (type === "IHDR") {
      header = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        depth: body[8] ?? 0,
        colorType: body[9] ?? 0,
      };
    } else if (type === "IDAT") data.push(body);
    else if (type === "IEND") ended = true;
    offset += 12 + length;
  }
  if (!header || !ended) throw new Error("no IHDR or IEND");
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[header.colorType] ?? 0;
  const rowBytes = Math.ceil((header.width * channels * header.depth) / 8);
  const pixels = inflateSync(Buffer.concat(data));
  if (pixels.length !== header.height * (rowBytes + 1)) {
    throw new Error(`image data is ${pixels.length} bytes, expected ${header.height * (rowBytes + 1)}`);
  }
  return { width: header.width, height: header.height, colorType: header.colorType };
}
