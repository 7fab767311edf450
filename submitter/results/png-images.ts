import { openRegularFile, readBoundedBytes } from "../../protocol/index.ts";

export const MAX_IMAGES = 4;
export const MAX_IMAGE_BYTES = 1024 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface ImageNote {
  path: string;
  size: number;
  included: boolean;
  note?: string;
}

export interface LoadedImage {
  path: string;
  data: string;
  mimeType: "image/png";
}

/** Reads up to MAX_IMAGES PNGs of at most MAX_IMAGE_BYTES each; larger or invalid ones get a note. */
export async function loadPngImages(
  candidates: readonly { path: string; file: string; size: number }[],
  maxImages = MAX_IMAGES,
): Promise<{ images: LoadedImage[]; notes: ImageNote[] }> {
  const images: LoadedImage[] = [];
  const notes: ImageNote[] = [];
  for (const candidate of candidates) {
    if (images.length >= maxImages) {
      notes.push({
        path: candidate.path,
        size: candidate.size,
        included: false,
        note: `only ${maxImages} images per call`,
      });
      continue;
    }
    if (candidate.size > MAX_IMAGE_BYTES) {
      notes.push({
        path: candidate.path,
        size: candidate.size,
        included: false,
        note: `larger than ${MAX_IMAGE_BYTES} bytes; open it from the working folder`,
      });
      continue;
    }
    // Never a link or FIFO, and never more than the limit, whatever the manifest claimed.
    const handle = await openRegularFile(candidate.file);
    try {
      const { size } = await handle.stat();
      if (size > MAX_IMAGE_BYTES) {
        notes.push({
          path: candidate.path,
          size,
          included: false,
          note: `larger than ${MAX_IMAGE_BYTES} bytes`,
        });
        continue;
      }
      const data = await readBoundedBytes(handle, candidate.file, MAX_IMAGE_BYTES);
      if (!data.subarray(0, 8).equals(PNG_SIGNATURE)) {
        notes.push({ path: candidate.path, size: candidate.size, included: false, note: "not a PNG file" });
        continue;
      }
      images.push({ path: candidate.path, data: data.toString("base64"), mimeType: "image/png" });
      notes.push({ path: candidate.path, size: candidate.size, included: true });
    } finally {
      await handle.close();
    }
  }
  return { images, notes };
}
