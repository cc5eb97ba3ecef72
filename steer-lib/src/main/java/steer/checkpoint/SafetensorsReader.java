package steer.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads safetensors files and Hugging Face checkpoint directories into float32 {@link HostTensor}s.
 *
 * <p>The format (github.com/huggingface/safetensors): an 8-byte little-endian unsigned header length N,
 * then N bytes of JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}}
 * (offsets relative to the first byte after the header), plus an optional {@code "__metadata__"} map of
 * strings; then the raw little-endian data. F32, F16 and BF16 tensors are read and widened to float32;
 * the other dtypes of the format are recognised in headers but fail when their data is read.
 *
 * <p>Every structural check (offsets within the file, offsets matching shape and dtype) happens when the
 * header is read, before any tensor data is touched.
 */
public final class SafetensorsReader {

    /** The file name of a single-file checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";

    /** The file name of a sharded checkpoint's index. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /** The reference implementation refuses larger headers, so a larger length means a corrupt file. */
    private static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Java arrays stop a little short of Integer.MAX_VALUE elements. */
    private static final long MAX_VALUES = Integer.MAX_VALUE - 8;

    /** Byte size of every dtype the format defines, so offsets can be checked even for unsupported ones. */
    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1),
            Map.entry("U16", 2), Map.entry("I16", 2), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("U32", 4), Map.entry("I32", 4), Map.entry("F32", 4),
            Map.entry("U64", 8), Map.entry("I64", 8), Map.entry("F64", 8));

    private SafetensorsReader() {
    }

    /**
     * Reads and checks the header of a safetensors file without reading tensor data.
     *
     * @param file the safetensors file
     * @return the tensors in header order, with their absolute data positions, and the metadata
     * @throws CheckpointException if the file is missing, too short, or its header is malformed or points
     *                             outside the file
     */
    public static SafetensorsHeader readHeader(Path file) {
        try (FileChannel channel = open(file)) {
            return readHeader(channel, file);
        } catch (IOException e) {
            throw new CheckpointException(file, "could not read: " + e, e);
        }
    }

    /**
     * Reads every tensor of a safetensors file.
     *
     * @param file the safetensors file
     * @return the tensors by name, in header order, widened to float32
     * @throws CheckpointException if the file is malformed or holds a dtype other than F32, F16 or BF16
     */
    public static Map<String, HostTensor> read(Path file) {
        return read(readHeader(file).tensors().values());
    }

    /**
     * Reads the named tensors of a safetensors file.
     *
     * @param file  the safetensors file
     * @param names the tensors to read
     * @return the tensors by name, in the order of {@code names}
     * @throws CheckpointException if the file is malformed or lacks one of the names
     */
    public static Map<String, HostTensor> read(Path file, Collection<String> names) {
        Map<String, SafetensorsEntry> all = readHeader(file).tensors();
        List<SafetensorsEntry> wanted = new ArrayList<>();
        for (String name : names) {
            SafetensorsEntry entry = all.get(name);
            if (entry == null) {
                throw new CheckpointException(file, "no tensor named " + name + " (the file has " + all.size() + " tensors)");
            }
            wanted.add(entry);
        }
        return read(wanted);
    }

    /**
     * Reads the data of tensors described by headers, which may come from several files; each file is
     * opened once.
     *
     * @param entries header entries from {@link #readHeader} or {@link #readCheckpointEntries}
     * @return the tensors by name, in the order of {@code entries}
     * @throws CheckpointException if a file changed since its header was read or a dtype is unsupported
     */
    public static Map<String, HostTensor> read(Collection<SafetensorsEntry> entries) {
        Map<Path, List<SafetensorsEntry>> byFile = new LinkedHashMap<>();
        for (SafetensorsEntry entry : entries) {
            encoding(entry); // fail on an unsupported dtype before reading gigabytes of the others
            byFile.computeIfAbsent(entry.file(), f -> new ArrayList<>()).add(entry);
        }
        Map<String, HostTensor> byName = new LinkedHashMap<>();
        for (Map.Entry<Path, List<SafetensorsEntry>> group : byFile.entrySet()) {
            Path file = group.getKey();
            try (FileChannel channel = open(file)) {
                for (SafetensorsEntry entry : group.getValue()) {
                    byName.put(entry.name(), readTensor(channel, entry));
                }
            } catch (IOException e) {
                throw new CheckpointException(file, "could not read: " + e, e);
            }
        }
        Map<String, HostTensor> ordered = new LinkedHashMap<>();
        for (SafetensorsEntry entry : entries) {
            ordered.put(entry.name(), byName.get(entry.name()));
        }
        return ordered;
    }

    /**
     * Reads the headers of a Hugging Face checkpoint directory: {@value #SINGLE_FILE} if present, otherwise
     * {@value #INDEX_FILE} and every shard it names.
     *
     * @param dir the checkpoint directory
     * @return every tensor by name (for a sharded checkpoint, those of the index's weight map, in its order)
     * @throws CheckpointException if neither file exists, a header is malformed, the index names a missing
     *                             shard, or a shard lacks a tensor the index assigns to it
     */
    public static Map<String, SafetensorsEntry> readCheckpointEntries(Path dir) {
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return readHeader(single).tensors();
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return readIndex(index);
        }
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(dir, "checkpoint directory not found");
        }
        throw new CheckpointException(dir, "has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
    }

    /**
     * Reads every tensor of a Hugging Face checkpoint directory, single-file or sharded.
     *
     * @param dir the checkpoint directory
     * @return the tensors by name, widened to float32
     * @throws CheckpointException as {@link #readCheckpointEntries} and {@link #read(Collection)}
     */
    public static Map<String, HostTensor> readCheckpoint(Path dir) {
        return read(readCheckpointEntries(dir).values());
    }

    private static Map<String, SafetensorsEntry> readIndex(Path index) {
        ObjectNode root = JsonFiles.readObject(index);
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new CheckpointException(index, "\"weight_map\" is missing or not a JSON object");
        }
        Map<String, List<String>> namesByShard = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            JsonNode shard = field.getValue();
            if (!shard.isTextual() || !isPlainFileName(shard.textValue())) {
                throw new CheckpointException(index, "weight_map entry " + field.getKey()
                        + " must name a shard file in the same directory, got " + JsonFiles.describe(shard));
            }
            namesByShard.computeIfAbsent(shard.textValue(), s -> new ArrayList<>()).add(field.getKey());
        }
        Map<String, SafetensorsEntry> found = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> shard : namesByShard.entrySet()) {
            Path shardFile = index.resolveSibling(shard.getKey());
            if (!Files.isRegularFile(shardFile)) {
                throw new CheckpointException(index, "shard " + shard.getKey() + " (holding tensor "
                        + shard.getValue().get(0) + ") not found at " + shardFile);
            }
            Map<String, SafetensorsEntry> inShard = readHeader(shardFile).tensors();
            for (String name : shard.getValue()) {
                SafetensorsEntry entry = inShard.get(name);
                if (entry == null) {
                    throw new CheckpointException(shardFile, "tensor " + name + " is assigned to this shard by "
                            + index.getFileName() + " but missing from it");
                }
                found.put(name, entry);
            }
        }
        Map<String, SafetensorsEntry> ordered = new LinkedHashMap<>();
        weightMap.fieldNames().forEachRemaining(name -> ordered.put(name, found.get(name)));
        return ordered;
    }

    /** Shard names come from the file itself, so refuse anything that could point outside the directory. */
    private static boolean isPlainFileName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.contains("\\") && !name.equals(".") && !name.equals("..");
    }

    private static FileChannel open(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "file not found");
        }
    }

    private static SafetensorsHeader readHeader(FileChannel channel, Path file) throws IOException {
        long fileBytes = channel.size();
        if (fileBytes < 8) {
            throw new CheckpointException(file, "file has " + fileBytes
                    + " bytes, shorter than the 8-byte header length of the safetensors format");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        FloatReads.readFully(channel, 0, prefix, file);
        long headerBytes = prefix.getLong(0);
        // Compared as unsigned: a length with the top bit set is simply larger than any file.
        if (Long.compareUnsigned(headerBytes, fileBytes - 8) > 0) {
            throw new CheckpointException(file, "header length " + Long.toUnsignedString(headerBytes)
                    + " is larger than the " + (fileBytes - 8) + " bytes that follow it in the file");
        }
        if (headerBytes > MAX_HEADER_BYTES) {
            throw new CheckpointException(file, "header length " + headerBytes + " exceeds the format's limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        ByteBuffer header = ByteBuffer.allocate((int) headerBytes);
        FloatReads.readFully(channel, 8, header, file);
        ObjectNode root = JsonFiles.parseObject(header.array(), file, "safetensors header");

        long dataStart = 8 + headerBytes;
        Map<String, SafetensorsEntry> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                readMetadata(field.getValue(), metadata, file);
            } else {
                tensors.put(field.getKey(), parseEntry(file, field.getKey(), field.getValue(), dataStart, fileBytes));
            }
        }
        return new SafetensorsHeader(file, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void readMetadata(JsonNode node, Map<String, String> metadata, Path file) {
        if (!node.isObject()) {
            throw new CheckpointException(file, "__metadata__ must be a JSON object, got " + JsonFiles.describe(node));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!field.getValue().isTextual()) {
                throw new CheckpointException(file, "__metadata__ value of " + field.getKey()
                        + " must be a string, got " + JsonFiles.describe(field.getValue()));
            }
            metadata.put(field.getKey(), field.getValue().textValue());
        }
    }

    private static SafetensorsEntry parseEntry(Path file, String name, JsonNode node, long dataStart, long fileBytes) {
        if (!node.isObject()) {
            throw new CheckpointException(file, "tensor " + name + ": header entry must be a JSON object, got "
                    + JsonFiles.describe(node));
        }
        JsonNode dtypeNode = requiredField(file, name, node, "dtype");
        if (!dtypeNode.isTextual()) {
            throw new CheckpointException(file, "tensor " + name + ": dtype must be a string, got "
                    + JsonFiles.describe(dtypeNode));
        }
        String dtype = dtypeNode.textValue();
        Integer dtypeBytes = DTYPE_BYTES.get(dtype);
        if (dtypeBytes == null) {
            throw new CheckpointException(file, "tensor " + name + ": unknown dtype \"" + dtype + "\"");
        }
        long[] shape = nonNegativeLongs(file, name, requiredField(file, name, node, "shape"), "shape");
        long[] offsets = nonNegativeLongs(file, name, requiredField(file, name, node, "data_offsets"), "data_offsets");
        if (offsets.length != 2 || offsets[0] > offsets[1]) {
            throw new CheckpointException(file, "tensor " + name + ": data_offsets must be [begin, end] with begin <= end, got "
                    + node.get("data_offsets"));
        }
        String shapeText = Arrays.toString(shape);
        long neededBytes;
        try {
            long values = 1;
            for (long d : shape) {
                values = Math.multiplyExact(values, d);
            }
            neededBytes = Math.multiplyExact(values, (long) dtypeBytes);
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, "tensor " + name + ": shape " + shapeText + " is too large");
        }
        long spanBytes = offsets[1] - offsets[0];
        if (spanBytes != neededBytes) {
            throw new CheckpointException(file, "tensor " + name + ": data_offsets [" + offsets[0] + ", " + offsets[1]
                    + "] span " + spanBytes + " bytes but shape " + shapeText + " of " + dtype + " needs " + neededBytes);
        }
        if (offsets[1] > fileBytes - dataStart) {
            throw new CheckpointException(file, "tensor " + name + ": data_offsets [" + offsets[0] + ", " + offsets[1]
                    + "] end at file byte " + (dataStart + offsets[1]) + " but the file has only " + fileBytes
                    + " bytes (truncated?)");
        }
        return new SafetensorsEntry(file, name, dtype, shape, dataStart + offsets[0], dataStart + offsets[1]);
    }

    private static JsonNode requiredField(Path file, String name, JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new CheckpointException(file, "tensor " + name + ": header entry has no \"" + field + "\"");
        }
        return value;
    }

    private static long[] nonNegativeLongs(Path file, String name, JsonNode node, String field) {
        if (!node.isArray()) {
            throw new CheckpointException(file, "tensor " + name + ": " + field + " must be an array, got "
                    + JsonFiles.describe(node));
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode element = node.get(i);
            if (!element.isIntegralNumber() || !element.canConvertToLong() || element.longValue() < 0) {
                throw new CheckpointException(file, "tensor " + name + ": " + field
                        + " must hold non-negative integers, got " + node);
            }
            values[i] = element.longValue();
        }
        return values;
    }

    private static FloatReads.Encoding encoding(SafetensorsEntry entry) {
        switch (entry.dtype()) {
            case "F32":
                return FloatReads.Encoding.F32;
            case "F16":
                return FloatReads.Encoding.F16;
            case "BF16":
                return FloatReads.Encoding.BF16;
            default:
                throw new CheckpointException(entry.file(), "tensor " + entry.name() + " has dtype " + entry.dtype()
                        + ", which is not supported (supported: F32, F16, BF16)");
        }
    }

    private static HostTensor readTensor(FileChannel channel, SafetensorsEntry entry) throws IOException {
        FloatReads.Encoding encoding = encoding(entry);
        long values = (entry.dataEnd() - entry.dataBegin()) / encoding.bytes;
        if (values > MAX_VALUES) {
            throw new CheckpointException(entry.file(), "tensor " + entry.name() + " has " + values
                    + " values, more than one Java array can hold");
        }
        float[] data = new float[(int) values];
        FloatReads.readFloats(channel, entry.dataBegin(), encoding, data, entry.file());
        return new HostTensor(entry.name(), entry.shape().clone(), data);
    }
}
