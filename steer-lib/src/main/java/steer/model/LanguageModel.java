package steer.model;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import steer.checkpoint.HfCheckpoint;
import steer.tokenizer.Tokenizer;

/**
 * A decoder with its tokenizer, loaded from a Hugging Face model directory ({@code config.json},
 * {@code model.safetensors} or shards, {@code tokenizer.json}): text in, text out.
 *
 * <p>Thread model: the weights load once; concurrent callers may generate and score at the same time, each
 * call using its own child manager and turning gradient recording off on its own thread.
 *
 * <p>A model made by {@link #withAdapter} is a view: a LoRA adapter in front of this model's weights, sharing them
 * and the tokenizer. The view owns only its adapter, so the model it came from must stay open while the view is
 * in use (a serving registry keeps it open by reference counting).
 */
public final class LanguageModel implements AutoCloseable {

    private final Decoder decoder;
    private final Tokenizer tokenizer;
    private final boolean ownsTokenizer; // false for a view made by withAdapter

    /** Wraps a decoder and a tokenizer; the model owns and closes both. */
    public LanguageModel(Decoder decoder, Tokenizer tokenizer) {
        this(decoder, tokenizer, true);
    }

    private LanguageModel(Decoder decoder, Tokenizer tokenizer, boolean ownsTokenizer) {
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.ownsTokenizer = ownsTokenizer;
    }

    /**
     * Loads a model directory. Malformed files fail with an error that names the file and the problem
     * ({@code CheckpointException}, {@code TokenizerException}).
     */
    public static LanguageModel load(Path dir) {
        return load(dir, Placement.CPU_F32);
    }

    /**
     * Loads a model directory onto a device in a precision (see {@link Placement}): half precision stores the
     * weights half, for serving; training loads its models itself.
     */
    public static LanguageModel load(Path dir, Placement placement) {
        // headers and tokenizer first, so a mismatch fails before gigabytes are read
        HfCheckpoint.Streamed checkpoint = HfCheckpoint.stream(dir);
        Tokenizer tokenizer = Tokenizer.load(dir);
        if (tokenizer.vocabSize() > checkpoint.config().vocabSize()) {
            tokenizer.close();
            throw new IllegalArgumentException(dir.resolve(Tokenizer.FILE_NAME) + ": the tokenizer has "
                    + tokenizer.vocabSize() + " tokens but config.json's vocab_size is " + checkpoint.config().vocabSize());
        }
        try {
            // tensor by tensor: the weights pass through the Java heap one layer at a time
            return new LanguageModel(Decoder.load(checkpoint, placement.newManager(), placement.precision(), false),
                    tokenizer);
        } catch (RuntimeException | Error e) {
            tokenizer.close();
            throw e;
        }
    }

    /**
     * This model's weights and tokenizer with a LoRA adapter read from a PEFT directory ({@code adapter_config.json},
     * {@code adapter_model.safetensors}) in front of them; nothing of the base is copied. On a view, the new adapter
     * replaces the view's (adapters do not stack). The adapter's matrices live on a child of the weights' manager
     * and are freed when the returned view is closed; closing it never frees the weights or the tokenizer.
     *
     * @throws steer.checkpoint.CheckpointException naming the file and the problem when a file is missing or
     *                                              malformed, or a tensor's shape does not fit this model (another
     *                                              rank, targets or base shape than the file says); nothing is
     *                                              left allocated
     */
    public LanguageModel withAdapter(Path adapterDir) {
        LoraAdapter adapter = LoraAdapter.read(adapterDir, decoder);
        try {
            return withAdapter(adapter);
        } catch (RuntimeException e) {
            adapter.close();
            throw e;
        }
    }

    /**
     * This model's weights and tokenizer with {@code adapter} in front of them ({@link Decoder#withAdapter}). The
     * view owns the adapter: closing it closes the adapter only.
     *
     * @throws IllegalArgumentException if the adapter was made for another shape or data type
     */
    public LanguageModel withAdapter(LoraAdapter adapter) {
        return new LanguageModel(decoder.withAdapter(adapter), tokenizer, false);
    }

    /** The decoder. */
    public Decoder decoder() {
        return decoder;
    }

    /** The tokenizer. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Number of parameters (a tied head counted once), an adapter's matrices included. */
    public long parameterCount() {
        long n = 0;
        for (Map.Entry<String, NDArray> p : heldParameters()) {
            n += p.getValue().size();
        }
        return n;
    }

    /**
     * Bytes the weights take as held: each parameter array's element count times its data type's width (so a
     * float32 model counts 4 bytes a parameter whatever dtype its checkpoint file used). A view counts the base's
     * weights and its adapter's. Working memory of requests (KV caches, activations) is not included.
     */
    public long parameterBytes() {
        long bytes = 0;
        for (Map.Entry<String, NDArray> p : heldParameters()) {
            bytes += p.getValue().size() * p.getValue().getDataType().getNumOfBytes();
        }
        return bytes;
    }

    /** The decoder's weights, then the adapter's matrices if there is one. */
    private List<Map.Entry<String, NDArray>> heldParameters() {
        List<Map.Entry<String, NDArray>> out = new ArrayList<>(decoder.weights());
        if (decoder.adapter() != null) {
            out.addAll(decoder.adapter().parameters());
        }
        return out;
    }

    /**
     * Continues each prompt.
     *
     * @param prompts     texts; each is encoded with BOS
     * @param params      sampling parameters
     * @param stopStrings the continuation ends before the first of these it contains (may be empty)
     * @return one completion per prompt, in order
     */
    public List<TextCompletion> complete(List<String> prompts, SamplingParams params, List<String> stopStrings) {
        List<int[]> ids = new ArrayList<>();
        for (String p : prompts) {
            ids.add(tokenizer.encode(p));
        }
        return completeIds(ids, params, stopStrings);
    }

    /**
     * Continues each conversation as the assistant: the messages rendered by the tokenizer's chat template
     * ({@code tokenizer_config.json}'s {@code chat_template}) with the generation prompt, encoded as rendered (the
     * template writes any BOS itself), so the response starts exactly where the assistant turn does and ends at an
     * end-of-turn id in {@code eos_token_id}.
     *
     * @param conversations each a list of system, user and assistant messages
     * @param params        sampling parameters
     * @param stopStrings   the continuation ends before the first of these it contains (may be empty)
     * @return one completion per conversation, in order; its prompt ids are the rendered conversation's
     * @throws IllegalArgumentException if the model has no chat template
     */
    public List<TextCompletion> completeChat(List<List<steer.tokenizer.ChatTemplate.Message>> conversations,
                                             SamplingParams params, List<String> stopStrings) {
        steer.tokenizer.ChatTemplate chat = tokenizer.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                tokenizer.file().getParent() + ": no chat_template in " + steer.tokenizer.ChatTemplate.CONFIG_FILE
                        + "; continue plain text instead"));
        List<int[]> ids = new ArrayList<>();
        for (List<steer.tokenizer.ChatTemplate.Message> c : conversations) {
            ids.add(tokenizer.encodeWithoutSpecialTokens(chat.render(c, true)));
        }
        return completeIds(ids, params, stopStrings);
    }

    private List<TextCompletion> completeIds(List<int[]> ids, SamplingParams params, List<String> stopStrings) {
        List<String> heads = new ArrayList<>();
        for (int[] p : ids) {
            heads.add(decode(p));
        }
        Generation.StopCheck stop = stopStrings.isEmpty() ? Generation.StopCheck.NEVER
                : (stream, tokens, count) -> indexOfStop(continuation(ids.get(stream), heads.get(stream),
                        Arrays.copyOf(tokens, count)), stopStrings) >= 0;
        List<GeneratedSequence> out = Generation.generate(decoder, ids, params,
                Set.copyOf(decoder.config().eosTokenIds()), stop, tokenizer.vocabSize());
        List<TextCompletion> completions = new ArrayList<>(out.size());
        for (int i = 0; i < out.size(); i++) {
            GeneratedSequence g = out.get(i);
            String text = continuation(ids.get(i), heads.get(i), g.tokenIds());
            int cut = indexOfStop(text, stopStrings);
            completions.add(new TextCompletion(cut >= 0 ? text.substring(0, cut) : text, ids.get(i), g.tokenIds(),
                    g.logProbs(), g.finishReason()));
        }
        return completions;
    }

    /**
     * A text prompt's sequence for a continuous batch: its ids, with the stop strings checked as
     * {@link #complete} checks them.
     *
     * @param promptIds the encoded prompt
     * @param head      the prompt decoded, for cutting the continuation out of the full text
     * @param stops     stop strings
     * @param sequence  the sequence to admit to a {@link DecodeBatch} from {@link #newDecodeBatch}
     */
    public record TextSequence(int[] promptIds, String head, List<String> stops, DecodeBatch.Sequence sequence) {
    }

    /**
     * Prepares {@code prompt} (encoded with BOS) for a continuous batch; stream {@code stream} draws from
     * (params.seed, stream), so it samples what stream {@code stream} of a {@link #complete} call samples.
     */
    public TextSequence textSequence(String prompt, SamplingParams params, int stream, List<String> stopStrings) {
        int[] ids = tokenizer.encode(prompt);
        String head = decode(ids);
        List<String> stops = List.copyOf(stopStrings);
        Generation.StopCheck stop = stops.isEmpty() ? Generation.StopCheck.NEVER
                : (s, tokens, count) -> indexOfStop(continuation(ids, head, Arrays.copyOf(tokens, count)), stops) >= 0;
        return new TextSequence(ids, head, stops, new DecodeBatch.Sequence(ids, params, stream, stop));
    }

    /** The completion of a finished {@link TextSequence}, cut before its first stop string as {@link #complete} does. */
    public TextCompletion completion(TextSequence t) {
        GeneratedSequence g = t.sequence().result();
        String text = continuation(t.promptIds(), t.head(), g.tokenIds());
        int cut = indexOfStop(text, t.stops());
        return new TextCompletion(cut >= 0 ? text.substring(0, cut) : text, t.promptIds(), g.tokenIds(), g.logProbs(),
                g.finishReason());
    }

    /**
     * A continuous batch on this model of at most {@code maxSlots} sequences, stopping at its EOS ids, on the
     * engine {@link Generation.Engine#configured()} names; with {@code deviceSampling} it picks tokens in native
     * ops ({@link DecodeBatch#DecodeBatch(Decoder, int, Set, int, boolean, Generation.Engine)}).
     */
    public DecodeBatch newDecodeBatch(int maxSlots, boolean deviceSampling) {
        return new DecodeBatch(decoder, tokenizer.vocabSize(), Set.copyOf(decoder.config().eosTokenIds()), maxSlots,
                deviceSampling, Generation.Engine.configured());
    }

    /**
     * The text that {@code generated} adds after {@code prompt}. Decoding the new tokens alone would lose
     * SentencePiece's leading space, so the prompt is decoded with and without them.
     */
    public String continuation(int[] prompt, int[] generated) {
        return continuation(prompt, decode(prompt), generated);
    }

    /** {@link #continuation(int[], int[])} with the prompt's decoded text already at hand. */
    private String continuation(int[] prompt, String head, int[] generated) {
        int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String full = decode(all);
        return full.startsWith(head) ? full.substring(head.length()) : decode(generated);
    }

    /** Placeholder text for an id the tokenizer cannot decode. */
    static final String UNDECODABLE = "\uFFFD";

    /**
     * Decodes ids, putting {@link #UNDECODABLE} in place of each id outside the tokenizer's vocabulary (an
     * embedding row the tokenizer lacks, which generation never samples but a caller's ids may hold) and
     * logging a warning that names them, instead of failing.
     */
    public String decode(int[] ids) {
        int n = tokenizer.vocabSize();
        boolean clean = true;
        for (int id : ids) {
            clean &= id >= 0 && id < n;
        }
        if (clean) {
            return tokenizer.decode(ids);
        }
        StringBuilder text = new StringBuilder();
        List<Integer> bad = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= ids.length; i++) {
            if (i == ids.length || ids[i] < 0 || ids[i] >= n) {
                text.append(tokenizer.decode(Arrays.copyOfRange(ids, start, i)));
                if (i < ids.length) {
                    text.append(UNDECODABLE);
                    bad.add(ids[i]);
                }
                start = i + 1;
            }
        }
        LOG.log(System.Logger.Level.WARNING, "token ids " + bad + " are outside the tokenizer's " + n
                + " tokens; decoded as " + UNDECODABLE);
        return text.toString();
    }

    private static final System.Logger LOG = System.getLogger(LanguageModel.class.getName());

    private static int indexOfStop(String text, List<String> stopStrings) {
        int first = -1;
        for (String s : stopStrings) {
            int i = text.indexOf(s);
            if (i >= 0 && (first < 0 || i < first)) {
                first = i;
            }
        }
        return first;
    }

    /** Frees the weights and the tokenizer, or for a view made by {@link #withAdapter}, its adapter only. */
    @Override
    public void close() {
        decoder.close();
        if (ownsTokenizer) {
            tokenizer.close();
        }
    }
}
