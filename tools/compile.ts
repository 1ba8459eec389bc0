/**
 * `deno task compile`: builds the single executable `dist/horae` with
 * `deno compile`. That needs Deno's `denort` runtime, which Deno downloads
 * from its own site on first use; offline, point `DENORT_BIN` at a `denort`
 * binary of the same Deno version (not the full `deno`). Copy `dist/horae`
 * to a host and link it as `chronyd` and `chronyc`.
 *
 * @module
 */
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
await Deno.mkdir(`${root}/dist`, { recursive: true });
const denort = Deno.env.get("DENORT_BIN");
if (denort) console.error(`compile: using denort runtime ${denort}`);
const cmd = new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "-A",
    "--unstable-net",
    "--no-prompt",
    "--config",
    `${root}/deno.json`,
    "-o",
    `${root}/dist/horae`,
    `${root}/main.ts`,
  ],
  env: denort ? { DENORT_BIN: denort } : {},
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await cmd.output();
if (code !== 0) {
  console.error(
    "compile: deno compile failed. It needs the denort runtime from Deno's site; " +
      "offline, set DENORT_BIN to a denort binary of Deno " + Deno.version.deno + ".",
  );
}
Deno.exit(code);
