package steer.judge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CalibrationFileTest {

    @TempDir
    Path dir;

    @Test
    void temperaturesRoundTripPerTemplateAndNoFileMeansNone() {
        assertEquals(Map.of(), CalibrationFile.read(dir));
        CalibrationFile.write(dir, "pairwise", 1.25);
        CalibrationFile.write(dir, "osp", 0.5);
        CalibrationFile.write(dir, "pairwise", 2.0);
        assertEquals(Map.of("pairwise", 2.0, "osp", 0.5), CalibrationFile.read(dir));
        assertThrows(IllegalArgumentException.class, () -> CalibrationFile.write(dir, "x", 0));
    }

    @Test
    void aMalformedFileIsNamed() throws Exception {
        Files.writeString(dir.resolve(CalibrationFile.FILE), "{\"format\":\"steer-judge-calibration-1\","
                + "\"temperatures\":{\"pairwise\":-1}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(dir));
        assertTrue(e.getMessage().contains(CalibrationFile.FILE) && e.getMessage().contains("temperatures.pairwise"),
                e.getMessage());
        Files.writeString(dir.resolve(CalibrationFile.FILE), "not json");
        assertThrows(IllegalArgumentException.class, () -> CalibrationFile.read(dir));
    }

    @Test
    void calibratedAveragesBothOrdersAtTheTemperature() {
        // d_AB = ln 3, d_BA = -ln 3: at T = 1 (0.75 + 1 - 0.25) / 2 = 0.75; at T = 2 σ(ln 3 / 2) = √3 / (1 + √3)
        PairwiseJudge.OrderLogits ab = new PairwiseJudge.OrderLogits((float) Math.log(3), 0f);
        PairwiseJudge.OrderLogits ba = new PairwiseJudge.OrderLogits(0f, (float) Math.log(3));
        assertEquals(0.75, CalibrationFile.calibrated(ab, ba, 1), 1e-6);
        assertEquals(Math.sqrt(3) / (1 + Math.sqrt(3)), CalibrationFile.calibrated(ab, ba, 2), 1e-6);
        PairwiseJudge.Verdict v = PairwiseJudge.Verdict.of(ab, ba);
        assertEquals(v.pABetter(), CalibrationFile.calibrated(ab, ba, 1), 1e-7, "T = 1 is the raw probability");
    }
}
