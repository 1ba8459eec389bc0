import { match as assertMatch } from "node:assert/strict";
import { featureList, versionLine } from "../../lib/version.ts";

Deno.test("version line has chronyd's form with horae as the implementation", () => {
  assertMatch(versionLine("chronyd"), /^chronyd \(horae\) version \d+\.\d+\.\d+ \(\+CMDMON /);
});

Deno.test("feature list marks each feature + or -", () => {
  for (const word of featureList().split(" ")) assertMatch(word, /^[+-][A-Z0-9]+$/);
});

Deno.test("chronyd -v and chronyc -v name the chrony release horae matches", () => {
  for (const p of ["chronyd", "chronyc"] as const) {
    assertMatch(
      versionLine(p),
      new RegExp(`^${p} \\(horae\\) version \\S+ \\(.*\\) compatible with chrony 4\\.8$`),
    );
  }
});
