package steer.cli.compare;

import java.util.ArrayList;
import java.util.List;
import org.apache.commons.math3.distribution.TDistribution;

/** The few statistics {@code steer compare} reports, as pure functions of lists of numbers. */
public final class Stats {

    private Stats() {
    }

    /**
     * Mean and sample standard deviation (n − 1 in the denominator) of the values that are present; NaN values
     * (a figure a run did not report) are left out, and {@code n} counts those kept.
     */
    public record Summary(double mean, double sd, int n) {

        public static final Summary EMPTY = new Summary(Double.NaN, Double.NaN, 0);

        public boolean isEmpty() {
            return n == 0;
        }
    }

    /**
     * A paired comparison: the mean of the differences with its 95% Student-t interval,
     * {@code mean ± t(0.975, n − 1) · sd / √n}. With fewer than two pairs the sd, t and interval are NaN.
     */
    public record PairedInterval(double meanDifference, double sd, int n, double t, double low, double high) {

        /** The interval lies wholly above or wholly below zero. */
        public boolean excludesZero() {
            return n >= 2 && (low > 0 || high < 0);
        }
    }

    public static double mean(List<Double> values) {
        return summary(values).mean();
    }

    /** Sample standard deviation, n − 1 in the denominator; NaN for fewer than two values. */
    public static double sd(List<Double> values) {
        return summary(values).sd();
    }

    public static Summary summary(List<Double> values) {
        List<Double> present = present(values);
        int n = present.size();
        if (n == 0) {
            return Summary.EMPTY;
        }
        double sum = 0;
        for (double v : present) {
            sum += v;
        }
        double mean = sum / n;
        if (n == 1) {
            return new Summary(mean, Double.NaN, 1);
        }
        double squares = 0;
        for (double v : present) {
            squares += (v - mean) * (v - mean);
        }
        return new Summary(mean, Math.sqrt(squares / (n - 1)), n);
    }

    /** The two-sided 95% quantile t(0.975, df) of Student's t distribution (Apache Commons Math). */
    public static double t975(int degreesOfFreedom) {
        if (degreesOfFreedom < 1) {
            throw new IllegalArgumentException("degrees of freedom: " + degreesOfFreedom + "; need at least 1");
        }
        return new TDistribution(degreesOfFreedom).inverseCumulativeProbability(0.975);
    }

    /** The 95% t-interval of the mean of paired differences (NaN values left out). */
    public static PairedInterval paired(List<Double> differences) {
        Summary s = summary(differences);
        if (s.n() < 2) {
            return new PairedInterval(s.mean(), Double.NaN, s.n(), Double.NaN, Double.NaN, Double.NaN);
        }
        double t = t975(s.n() - 1);
        double half = t * s.sd() / Math.sqrt(s.n());
        return new PairedInterval(s.mean(), s.sd(), s.n(), t, s.mean() - half, s.mean() + half);
    }

    private static List<Double> present(List<Double> values) {
        List<Double> out = new ArrayList<>(values.size());
        for (Double v : values) {
            if (v != null && !Double.isNaN(v)) {
                out.add(v);
            }
        }
        return out;
    }
}
