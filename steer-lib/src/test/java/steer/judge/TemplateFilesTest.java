package steer.judge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateFilesTest {

    @TempDir
    Path dir;

    private static final String PAIRWISE = "\"kind\": \"pairwise\", \"user\": \"Q {prompt} A {response_a} B {response_b}\"";

    @Test
    void aValidFileGivesTemplatesThatFillTheirPlaceholdersOnce() throws IOException {
        Path file = write("ok.json", "[{\"id\": \"p1\", " + PAIRWISE + ", \"system\": \"Judge.\", \"answer_prefix\": \"Answer:\", "
                + "\"answers\": [\"first\", \"second\"]}, {\"id\": \"r1\", \"kind\": \"rubric\", \"user\": \"{prompt} / "
                + "{response}\", \"scores\": {\"min\": 1, \"max\": 5}}]");
        JudgeTemplates t = JudgeTemplates.load(List.of(file));
        assertEquals(List.of("osp", "p1", "pairwise", "r1", "rubric"), t.ids());
        JudgePrompt p = t.pairwise("template_id", "p1").prompt().build("{response_b}", "x", "y");
        assertEquals("Judge.", p.system());
        assertEquals("Q {response_b} A x B y", p.user(), "a text holding a placeholder is not substituted again");
        assertEquals("Answer:", p.answerPrefix());
        assertEquals(1, t.rubric("template_id", "r1").minScore());
        JudgeTemplates.Description d = t.describe().stream().filter(x -> x.id().equals("p1")).findFirst().orElseThrow();
        assertEquals(file.toString(), d.source());
        assertEquals("first", d.answerA());
    }

    @Test
    void invalidFilesAreRefusedNamingFileAndField() throws IOException {
        refused("{\"id\": \"a\", " + PAIRWISE + "}", "(template 'a'): field 'answers' must be an array of two strings");
        refused("{\"id\": \"a\", " + PAIRWISE + ", \"answers\": [\"A\", \"A\"]}", "field 'answers' has 'A' twice");
        refused("{\"id\": \"a\", " + PAIRWISE + ", \"answers\": [\" A\", \"B\"]}", "field 'answers' has ' A'");
        refused("{\"id\": \"a\", \"kind\": \"pairwise\", \"user\": \"{prompt} {response_a}\", \"answers\": [\"A\", \"B\"]}",
                "must contain {response_b}");
        refused("{\"id\": \"a\", \"kind\": \"rubric\", \"user\": \"{prompt} {response} {score}\", \"scores\": {\"min\": 1, \"max\": 3}}",
                "field 'user' has placeholder {score}");
        refused("{\"id\": \"a\", \"kind\": \"rubric\", \"user\": \"{prompt} {response}\", \"scores\": {\"min\": 5, \"max\": 3}}",
                "field 'scores' is 5..3");
        refused("{\"id\": \"a\", \"kind\": \"judge\", \"user\": \"x\"}", "field 'kind' is 'judge'; use pairwise or rubric");
        refused("{\"id\": \"a b\", \"kind\": \"rubric\"}", "field 'id' is 'a b'");
        refused("{\"kind\": \"rubric\"}", "field 'id' is missing");
        refused("{\"id\": \"a\", " + PAIRWISE + ", \"answers\": [\"A\", \"B\"], \"temperature\": 1}", "unknown field 'temperature'");
        refused("{\"id\": \"osp\", " + PAIRWISE + ", \"answers\": [\"A\", \"B\"]}", "field 'id': 'osp' is already defined (built-in)");
        refused("{\"id\": ", "is not valid JSON");
    }

    private void refused(String json, String fragment) throws IOException {
        Path file = write("bad.json", json);
        TemplateFileException e = assertThrows(TemplateFileException.class, () -> JudgeTemplates.load(List.of(file)));
        assertTrue(e.getMessage().startsWith("judge template file " + file) && e.getMessage().contains(fragment), e.getMessage());
    }

    private Path write(String name, String json) throws IOException {
        return Files.writeString(dir.resolve(name), json);
    }
}
