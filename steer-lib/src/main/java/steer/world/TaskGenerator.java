package steer.world;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Draws random tasks: a family uniformly from {@link Family}, then its operands (shapes in {@link Task}),
 * then, with probability {@code secretRate}, a secret clause with a uniformly drawn code. The same generator
 * state always gives the same task, so a seeded {@link java.util.SplittableRandom} makes every list of tasks
 * reproducible.
 *
 * @param secretRate the share of queries that carry a secret, in [0, 1]; default 0.3
 */
public record TaskGenerator(double secretRate) {

    /** The default share of queries with a secret. */
    public static final double DEFAULT_SECRET_RATE = 0.3;

    /**
     * Checks the rate.
     *
     * @throws IllegalArgumentException if the rate is outside [0, 1]
     */
    public TaskGenerator {
        if (!(secretRate >= 0 && secretRate <= 1)) {
            throw new IllegalArgumentException("secret rate must be in [0, 1], got " + secretRate
                    + " (default " + DEFAULT_SECRET_RATE + ")");
        }
    }

    /**
     * The generator with a secret on 30% of queries.
     *
     * @return the default generator
     */
    public static TaskGenerator defaults() {
        return new TaskGenerator(DEFAULT_SECRET_RATE);
    }

    /**
     * Draws one task.
     *
     * @param random the random source; advanced by this call
     * @return a task whose query {@link Task#parse} reads back to an equal task
     */
    public Task sample(RandomGenerator random) {
        Family family = Family.values()[random.nextInt(Family.values().length)];
        List<String> body = new ArrayList<>();
        body.add(family.verb());
        switch (family) {
            case ADD -> {
                int operands = 2 + random.nextInt(3);
                int left = WorldVocabulary.MAX_NUMBER;
                for (int i = 0; i < operands; i++) {
                    int n = random.nextInt(Math.min(9, left) + 1);
                    left -= n;
                    body.add(Integer.toString(n));
                }
            }
            case SORT -> {
                int n = 3 + random.nextInt(3);
                for (int i = 0; i < n; i++) {
                    body.add(Integer.toString(random.nextInt(WorldVocabulary.MAX_NUMBER + 1)));
                }
            }
            case REVERSE -> body.addAll(letters(random, 3 + random.nextInt(4)));
            case COUNT -> {
                List<String> list = letters(random, 3 + random.nextInt(4));
                // Mostly a letter of the list, so that counts are not almost always zero.
                String letter = random.nextDouble() < 0.75 ? list.get(random.nextInt(list.size())) : letter(random);
                body.add(letter);
                body.add("in");
                body.addAll(list);
            }
            case COPY -> {
                List<String> list = letters(random, 3 + random.nextInt(4));
                String letter = list.get(random.nextInt(list.size()));
                if (list.stream().allMatch(letter::equals)) {
                    list.set(0, WorldVocabulary.LETTERS.get((WorldVocabulary.LETTERS.indexOf(letter) + 1)
                            % WorldVocabulary.LETTERS.size()));
                }
                body.addAll(list);
                body.add("without");
                body.add(letter);
            }
            default -> throw new IllegalStateException(family.toString());
        }
        String query = Texts.join(body);
        if (random.nextDouble() < secretRate) {
            String secret = WorldVocabulary.SECRETS.get(random.nextInt(WorldVocabulary.SECRETS.size()));
            query = "secret " + secret + " . " + query;
        }
        return Task.parse(query);
    }

    private static List<String> letters(RandomGenerator random, int n) {
        List<String> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(letter(random));
        }
        return list;
    }

    private static String letter(RandomGenerator random) {
        return WorldVocabulary.LETTERS.get(random.nextInt(WorldVocabulary.LETTERS.size()));
    }
}
