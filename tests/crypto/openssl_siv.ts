/**
 * OpenSSL's own AES-128-SIV seal (EVP "AES-128-SIV") as a reference for the
 * AES-SIV of lib/crypto: slow, test-only, with its own handle on libcrypto.
 * Non-empty plaintext only (OpenSSL 3.0 skips the tag on an empty one).
 */
const EVP_CTRL_AEAD_GET_TAG = 0x10;

let lib:
  | Deno.DynamicLibrary<{
    EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"]; result: "pointer" };
    EVP_CIPHER_CTX_new: { parameters: []; result: "pointer" };
    EVP_CIPHER_CTX_free: { parameters: ["pointer"]; result: "void" };
    EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"]; result: "i32" };
    EVP_EncryptInit_ex2: {
      parameters: ["pointer", "pointer", "buffer", "buffer", "pointer"];
      result: "i32";
    };
    EVP_EncryptUpdate: {
      parameters: ["pointer", "buffer", "buffer", "buffer", "i32"];
      result: "i32";
    };
    EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"]; result: "i32" };
  }>
  | undefined;

function open() {
  lib ??= Deno.dlopen(
    "libcrypto.so.3",
    {
      EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
      EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
      EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
      EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
      EVP_EncryptInit_ex2: {
        parameters: ["pointer", "pointer", "buffer", "buffer", "pointer"],
        result: "i32",
      },
      EVP_EncryptUpdate: {
        parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
        result: "i32",
      },
      EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
    } as const,
  );
  return lib.symbols;
}

/** tag (16 bytes) || ciphertext of `plaintext` under the AD components and nonce (if any). */
export function opensslAesSivSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: readonly Uint8Array[],
  plaintext: Uint8Array,
): Uint8Array {
  if (key.length !== 32) throw new RangeError("AES-SIV-CMAC-256 key must be 32 bytes");
  if (plaintext.length === 0) throw new RangeError("OpenSSL 3.0 SIV needs a plaintext");
  const c = open();
  const cipher = c.EVP_CIPHER_fetch(null, new TextEncoder().encode("AES-128-SIV\0"), null);
  if (!cipher) throw new Error("OpenSSL has no AES-128-SIV");
  const ctx = c.EVP_CIPHER_CTX_new()!;
  const outLen = new Uint8Array(4);
  try {
    const out = new Uint8Array(16 + plaintext.length);
    const body = out.subarray(16);
    const ok = c.EVP_EncryptInit_ex2(ctx, cipher, key, null, null) === 1 &&
      ad.every((a) => c.EVP_EncryptUpdate(ctx, null, outLen, a, a.length) === 1) &&
      (nonce.length === 0 || c.EVP_EncryptUpdate(ctx, null, outLen, nonce, nonce.length) === 1) &&
      c.EVP_EncryptUpdate(ctx, body, outLen, plaintext, plaintext.length) === 1 &&
      c.EVP_EncryptFinal_ex(ctx, body, outLen) === 1 &&
      c.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out) === 1;
    if (!ok) throw new Error("OpenSSL AES-128-SIV failed");
    return out;
  } finally {
    c.EVP_CIPHER_CTX_free(ctx);
  }
}
