<?php
/*
 * Makes a legacy copy of class_weixin native by a small edit that keeps the
 * file, its name, its methods and its callers:
 *
 *     class class_weixin            ->  class class_weixin extends class_weixin_native
 *     public function __construct(...) { ...memcache, token request... }  ->  (removed)
 *
 * The extension's constructor then gets the token: same arguments
 * ($appid, $appsecret), same properties ($appid, $appsecret, $access_token).
 *
 *   php scripts/migrate-legacy.php FILE          prints the edit as a unified diff
 *   php scripts/migrate-legacy.php --write FILE  makes it (FILE.bak keeps the original)
 *
 * Says what it left alone and why. Refuses a file it does not understand,
 * with the reason, and changes nothing (exit status 1). A class_weixin that
 * does not get a token in its constructor (an unrelated API of the same
 * name) needs no edit: the extension leaves a script's own class_weixin
 * alone. Needs PHP's tokenizer extension only.
 */

const NATIVE = 'class_weixin_native';
/** Native methods a copy may redeclare, with why that is fine. */
const KEPT_METHODS = [
    'http_request' => 'it overrides the extension\'s, so every call of the copy goes through it as before (protected or public: both fine); delete it to use the extension\'s (TLS verified, a refused token replaced once)',
    'https_request' => 'the extension has no method of that name: it works as before, with $this->access_token from the extension',
    'getsignpackage' => 'kept; jssdk_config($url) gives the same wx.config() fields with the ticket shared by every process (README, "JS-SDK")',
    'getjsapiticket' => 'kept; get_jsapi_ticket() is the extension\'s ticket, shared by every process (README, "JS-SDK")',
];
/** Native methods whose redeclaration must match the extension's signature. */
const NATIVE_METHODS = ['refresh_access_token', 'get_jsapi_ticket', 'get_ticket', 'jssdk_config', '__debuginfo'];

function fail(string $file, string $why): never
{
    fwrite(STDERR, "migrate-legacy: $file: refused, nothing changed: $why\n");
    exit(1);
}

/** The tokens of $source with their byte offsets: [[id|null, text, offset, line], ...]. */
function tokens(string $file, string $source): array
{
    try {
        $raw = token_get_all($source, TOKEN_PARSE);
    } catch (ParseError $e) {
        fail($file, "it does not parse (line {$e->getLine()}: {$e->getMessage()})");
    }
    $tokens = [];
    $offset = 0;
    $line = 1;
    foreach ($raw as $token) {
        [$id, $text] = is_array($token) ? [$token[0], $token[1]] : [null, $token];
        $tokens[] = [$id, $text, $offset, $line];
        $offset += strlen($text);
        $line += substr_count($text, "\n");
    }
    return $tokens;
}

function is_space(array $token): bool
{
    return in_array($token[0], [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT], true);
}

/** Index of the next token after $i that is not whitespace or a comment. */
function next_code(array $tokens, int $i): ?int
{
    for ($i++; $i < count($tokens); $i++) {
        if (!is_space($tokens[$i])) return $i;
    }
    return null;
}

/** Index of the `}` that closes the first `{` at or after $i. */
function block_end(array $tokens, int $i): ?int
{
    $depth = 0;
    for (; $i < count($tokens); $i++) {
        $text = $tokens[$i][1];
        if ($text === '{' || in_array($tokens[$i][0], [T_CURLY_OPEN, T_DOLLAR_OPEN_CURLY_BRACES], true)) {
            $depth++;
        } elseif ($text === '}') {
            if (--$depth === 0) return $i;
        }
    }
    return null;
}

/** Byte offset of the start of the line holding $offset. */
function line_start(string $source, int $offset): int
{
    $newline = strrpos(substr($source, 0, $offset), "\n");
    return $newline === false ? 0 : $newline + 1;
}

/** Byte offset just after the end of the line holding $offset (its newline included). */
function line_end(string $source, int $offset): int
{
    $newline = strpos($source, "\n", $offset);
    return $newline === false ? strlen($source) : $newline + 1;
}

/** The copy's class_weixin: [index of `class`, of its name, of `{`, of `}`] and its namespace. */
function find_class(string $file, array $tokens): array
{
    $found = [];
    $namespace = '';
    foreach ($tokens as $i => [$id]) {
        if ($id === T_NAMESPACE && ($n = next_code($tokens, $i)) !== null && $tokens[$n][1] !== '\\' && $tokens[$n][1] !== '(') {
            $namespace = in_array($tokens[$n][1], [';', '{'], true) ? '' : $tokens[$n][1];
        }
        if ($id !== T_CLASS) continue;
        $name = next_code($tokens, $i);
        if ($name === null || $tokens[$name][0] !== T_STRING || strtolower($tokens[$name][1]) !== 'class_weixin') continue;
        $found[] = [$i, $name, $namespace];
    }
    if (!$found) fail($file, 'it declares no class class_weixin');
    if (count($found) > 1) fail($file, 'it declares class_weixin ' . count($found) . ' times: edit it by hand');
    [$class, $name, $namespace] = $found[0];
    if ($namespace !== '') fail($file, "it declares class_weixin in namespace $namespace; the extension's class_weixin is global");
    $open = $name;
    while ($tokens[$open][1] !== '{') $open++;
    $close = block_end($tokens, $open);
    if ($close === null) fail($file, 'class_weixin has no end');
    return [$class, $name, $open, $close];
}

/** The class's methods at its top level: lowercase name => [first token (modifiers, attached comments), `function`, `}`]. */
function methods(array $tokens, int $open, int $close): array
{
    $methods = [];
    for ($i = $open + 1; $i < $close; $i++) {
        if ($tokens[$i][1] === '{') {
            $i = block_end($tokens, $i);
            continue;
        }
        if ($tokens[$i][0] !== T_FUNCTION) continue;
        $name = next_code($tokens, $i);
        if ($tokens[$name][1] === '&') $name = next_code($tokens, $name);
        $end = $i;
        while ($tokens[$end][1] !== '{' && $tokens[$end][1] !== ';') $end++;
        if ($tokens[$end][1] === '{') $end = block_end($tokens, $end);
        // Its modifiers, then the comments just above it (nothing but
        // whitespace with at most one line break between).
        $first = $i;
        for ($j = $i - 1; $j > $open; $j--) {
            [$id, $text] = $tokens[$j];
            if (in_array($id, [T_PUBLIC, T_PROTECTED, T_PRIVATE, T_STATIC, T_FINAL, T_ABSTRACT], true)) {
                $first = $j;
            } elseif (($id === T_COMMENT || $id === T_DOC_COMMENT)) {
                $first = $j;
            } elseif ($id === T_WHITESPACE && substr_count($text, "\n") <= 1) {
                continue;
            } else {
                break;
            }
        }
        $methods[strtolower($tokens[$name][1])] = [$first, $i, $end, $tokens[$name][1]];
    }
    return $methods;
}

/** The constructor's parameter names. */
function parameters(array $tokens, int $function, int $end): array
{
    $names = [];
    for ($i = $function; $i < $end && $tokens[$i][1] !== '{'; $i++) {
        if ($tokens[$i][0] === T_VARIABLE) $names[] = $tokens[$i][1];
    }
    return $names;
}

/** Source between two token indexes, inclusive. */
function text_of(array $tokens, int $from, int $to): string
{
    return implode('', array_column(array_slice($tokens, $from, $to - $from + 1), 1));
}

/** The edits for $source: [[byte start, byte end, replacement], ...], and notes. */
function plan(string $file, string $source): array
{
    $tokens = tokens($file, $source);
    [$class, $name, $open, $close] = find_class($file, $tokens);
    $after = next_code($tokens, $name);
    if ($tokens[$after][0] === T_EXTENDS) {
        $parent = ltrim($tokens[next_code($tokens, $after)][1], '\\');
        if (strtolower($parent) === NATIVE) {
            return [[], ['class_weixin already extends ' . NATIVE]];
        }
        fail($file, "class_weixin extends $parent: a class can extend only one; edit it by hand");
    }
    $methods = methods($tokens, $open, $close);
    $notes = [];
    $constructor = $methods['__construct'] ?? null;
    $sets_token = $constructor !== null && preg_match('/\$this\s*->\s*access_token\s*=/', text_of($tokens, $constructor[1], $constructor[2]));
    if (!$sets_token) {
        return [[], ['its constructor does not get an access token (an API of its own under the same name): '
            . 'no edit needed, the extension leaves a script\'s own class_weixin alone; it keeps working as it is']];
    }
    foreach (NATIVE_METHODS as $native) {
        if (isset($methods[$native])) {
            fail($file, "it declares {$methods[$native][3]}(), which the extension's class has too with its own signature; rename one, then run this again");
        }
    }
    if (isset($methods['http_request']) && preg_match('/\bprivate\b/i', text_of($tokens, $methods['http_request'][0], $methods['http_request'][1]))) {
        fail($file, 'its http_request() is private; the extension\'s is protected: make the copy\'s protected (or public), then run this again');
    }
    $parameters = parameters($tokens, $constructor[1], $constructor[2]);
    if (count($parameters) > 2) {
        fail($file, 'its constructor takes ' . implode(', ', $parameters) . '; the extension\'s takes ($appid, $appsecret): edit it by hand');
    }
    foreach (['appid', 'appsecret', 'access_token'] as $property) {
        if (preg_match('/\b(private|protected)\s+(static\s+)?\$' . $property . '\b/i', text_of($tokens, $open, $close), $m)) {
            fail($file, "its \$$property is $m[1]; the extension's is public: make it public, then run this again");
        }
    }

    $edits = [];
    // extends, right after the name.
    $at = $tokens[$name][2] + strlen($tokens[$name][1]);
    $edits[] = [$at, $at, ' extends ' . NATIVE];
    // The constructor, whole lines, with the comments just above it; one of
    // the blank lines around it goes too.
    $start = line_start($source, $tokens[$constructor[0]][2]);
    $end = line_end($source, $tokens[$constructor[2]][2]);
    $before = substr($source, line_start($source, max(0, $start - 1)), $start - line_start($source, max(0, $start - 1)));
    $next = substr($source, $end, line_end($source, $end) - $end);
    if ($start > 0 && trim($before) === '' && trim($next) === '') {
        $end = line_end($source, $end);
    }
    $edits[] = [$start, $end, ''];
    $first = $tokens[$constructor[0]][3];
    $last = $tokens[$constructor[2]][3];
    $notes[] = "__construct() removed (lines $first-$last): the extension's constructor takes the same (\$appid, \$appsecret), "
        . 'falls back to the properties, then APPID/APPSECRET, then php.ini, and gets the token shared by every process '
        . '(memcached key weixin.cache_key, "access_token" by default, as the legacy constructor used). '
        . 'Anything else the constructor did is gone with it: read the diff';
    preg_match_all('/\$this\s*->\s*(\w+)\s*=(?!=)/', text_of($tokens, $constructor[1], $constructor[2]), $set);
    $others = array_diff(array_unique($set[1]), ['appid', 'appsecret', 'access_token']);
    if ($others) {
        $notes[] = 'the constructor also set $this->' . implode(', $this->', $others) . ': no longer set; where a method '
            . 'needs them, set them there, or declare __construct($appid = null, $appsecret = null) that calls '
            . 'parent::__construct($appid, $appsecret) and sets them';
    }
    foreach ($methods as $lower => [, , , $original]) {
        if (isset(KEPT_METHODS[$lower])) $notes[] = "$original(): " . KEPT_METHODS[$lower];
    }
    if (preg_match('/\b(var|public)\s+\$(appid|appsecret)\s*=/i', text_of($tokens, $open, $close))) {
        $notes[] = 'the $appid/$appsecret defaults kept: the extension uses them when the constructor gets no arguments';
    }
    if (preg_match('/\bdefine\s*\(\s*[\'"](APPID|APPSECRET)[\'"]/i', $source)) {
        $notes[] = 'define(\'APPID\'/\'APPSECRET\', ...) kept: the extension reads those constants too';
    }
    $notes[] = 'properties its methods add on the fly keep working: the extension\'s class allows them (#[\AllowDynamicProperties])';
    return [$edits, $notes];
}

/** $source with $edits (sorted, not overlapping) made. */
function apply(string $source, array $edits): string
{
    usort($edits, fn ($a, $b) => $b[0] <=> $a[0]);
    foreach ($edits as [$start, $end, $text]) {
        $source = substr($source, 0, $start) . $text . substr($source, $end);
    }
    return $source;
}

/**
 * The line edit script from $a to $b (Myers' O(ND) algorithm: the edit is
 * small, so this is quick even on long files): [[' '|'-'|'+', line], ...].
 */
function line_diff(array $a, array $b): array
{
    $n = count($a);
    $m = count($b);
    $v = [1 => 0];
    $trace = [];
    for ($d = 0; $d <= $n + $m; $d++) {
        $trace[] = $v;
        for ($k = -$d; $k <= $d; $k += 2) {
            $x = ($k === -$d || ($k !== $d && $v[$k - 1] < $v[$k + 1])) ? $v[$k + 1] : $v[$k - 1] + 1;
            $y = $x - $k;
            while ($x < $n && $y < $m && $a[$x] === $b[$y]) {
                $x++;
                $y++;
            }
            $v[$k] = $x;
            if ($x >= $n && $y >= $m) break 2;
        }
    }
    // Back from the end: each step is a snake (equal lines) after one edit.
    $script = [];
    [$x, $y] = [$n, $m];
    for ($d = count($trace) - 1; $d >= 0; $d--) {
        $v = $trace[$d];
        $k = $x - $y;
        $prevK = ($k === -$d || ($k !== $d && ($v[$k - 1] ?? -1) < ($v[$k + 1] ?? -1))) ? $k + 1 : $k - 1;
        $prevX = $v[$prevK] ?? 0;
        $prevY = $prevX - $prevK;
        while ($x > $prevX && $y > $prevY) {
            $x--;
            $y--;
            $script[] = [' ', $a[$x]];
        }
        if ($d > 0) $script[] = $x === $prevX ? ['+', $b[--$y]] : ['-', $a[--$x]];
    }
    return array_reverse($script);
}

/** A unified diff of $old and $new with 3 lines of context. */
function unified_diff(string $name, string $old, string $new): string
{
    $script = line_diff(explode("\n", $old), explode("\n", $new));
    $out = "--- $name\n+++ $name (migrated)\n";
    $changed = array_keys(array_filter($script, fn ($step) => $step[0] !== ' '));
    $i = 0;
    while ($i < count($changed)) {
        $first = $changed[$i];
        $last = $first;
        while ($i + 1 < count($changed) && $changed[$i + 1] - $last <= 7) $last = $changed[++$i];
        $i++;
        $from = max(0, $first - 3);
        $to = min(count($script) - 1, $last + 3);
        // Line numbers where the hunk starts, in each file.
        [$oldLine, $newLine] = [1, 1];
        for ($s = 0; $s < $from; $s++) {
            if ($script[$s][0] !== '+') $oldLine++;
            if ($script[$s][0] !== '-') $newLine++;
        }
        $hunk = array_slice($script, $from, $to - $from + 1);
        $oldCount = count(array_filter($hunk, fn ($step) => $step[0] !== '+'));
        $newCount = count(array_filter($hunk, fn ($step) => $step[0] !== '-'));
        $out .= "@@ -$oldLine,$oldCount +$newLine,$newCount @@\n";
        foreach ($hunk as [$mark, $line]) $out .= $mark . $line . "\n";
    }
    return $out;
}

/** Whether PHP (this one, without ini files) parses $source; the reason if not. */
function lint(string $source): ?string
{
    $file = tempnam(sys_get_temp_dir(), 'migrate');
    file_put_contents($file, $source);
    exec(escapeshellarg(PHP_BINARY) . ' -n -l ' . escapeshellarg($file) . ' 2>&1', $output, $status);
    unlink($file);
    return $status === 0 ? null : trim(str_replace($file, 'the migrated file', implode("\n", $output)));
}

$args = array_slice($argv, 1);
$write = in_array('--write', $args, true);
$files = array_values(array_diff($args, ['--write']));
if (count($files) !== 1 || str_starts_with($files[0], '-')) {
    fwrite(STDERR, "usage: php scripts/migrate-legacy.php [--write] FILE\n");
    exit(2);
}
if (!function_exists('token_get_all')) {
    fwrite(STDERR, "migrate-legacy: this PHP has no tokenizer extension (Debian: it is in php-cli)\n");
    exit(2);
}
$file = $files[0];
$source = @file_get_contents($file);
if (!is_string($source)) fail($file, 'it cannot be read');

[$edits, $notes] = plan($file, $source);
if (!$edits) {
    echo "$file: nothing to change: $notes[0]\n";
    exit(0);
}
$migrated = apply($source, $edits);
if (($error = lint($migrated)) !== null) fail($file, "the edited file would not parse: $error");
echo unified_diff($file, $source, $migrated);
echo "\nLeft alone, and why:\n";
foreach ($notes as $note) echo "- $note\n";
if ($write) {
    $backup = "$file.bak";
    for ($n = 1; file_exists($backup); $n++) $backup = "$file.bak.$n";
    if (!copy($file, $backup) || file_put_contents($file, $migrated) !== strlen($migrated)) {
        fwrite(STDERR, "migrate-legacy: $file: could not write it (or its backup $backup)\n");
        exit(1);
    }
    echo "\nWritten: $file (the original is in $backup)\n";
} else {
    echo "\nNothing written: run again with --write to make this edit (the original is kept as $file.bak).\n";
}
