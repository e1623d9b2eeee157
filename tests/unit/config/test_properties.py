"""Property files, command-line overrides, typed getters and the table of known names."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.config.endpoints import ANY_HOST, Endpoint, Identity
from shoal.config.properties import (
    COMMAND_LINE,
    DEFAULT_MESSAGE_SIZE_MAX_KB,
    Origin,
    Properties,
    Property,
    PropertySyntaxError,
    VariableError,
    expand_variables,
    load_file,
    load_files,
    parse_command_line,
    parse_line,
)
from shoal.config.property_names import (
    ICE_PROPERTIES,
    SHOAL_PROPERTIES,
    ignored_properties,
    is_ice_property,
    is_shoal_property,
    suggest,
    unknown_properties,
)
from shoal.errors import ConfigError


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ one line


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("Key=Value", ("Key", "Value")),
        ("  Key  =  Value  ", ("Key", "Value")),
        ("\tKey\t=\tValue\r", ("Key", "Value")),
        ("Key=", ("Key", "")),
        ("Key = a b  c ", ("Key", "a b  c")),
        ("Key=Value # a comment", ("Key", "Value")),
        ("Key=a\\#b", ("Key", "a#b")),
        ("Key=a\\=b=c", ("Key", "a=b=c")),
        ("Key=a\\\\b", ("Key", "a\\b")),
        ("Key=C:\\dir\\file", ("Key", "C:\\dir\\file")),
        ("Key=\\ \\ padded\\ \\ ", ("Key", "  padded  ")),
        ("Key=a\\ b", ("Key", "a b")),
        ("Key=\\ ", ("Key", " ")),
        ("Key=value\\", ("Key", "value\\")),
        ("Key=\\#", ("Key", "#")),
        ("Key=\\ \\#", ("Key", " #")),
        ("Key=a \\ ", ("Key", "a ")),
        ("Key=a\\ \\", ("Key", "a \\ ")),
        ("My\\=Key=v", ("My=Key", "v")),
        ("My\\#Key=v", ("My#Key", "v")),
        ("My\\\\Key=v", ("My\\Key", "v")),
        ("My\\xKey=v", ("My\\xKey", "v")),
        ("a b = c", ("a b", "c")),
        ("\\ Key=v", ("Key", "v")),
        ("Key\\ =v", ("Key", "v")),
        ("Key\\ x=v", ("Key x", "v")),
        ("Key \\#=v", ("Key #", "v")),
        ("Key\\", None),
    ],
)
def test_line_syntax_follows_ice_parse_line(line: str, parsed: tuple[str, str] | None) -> None:
    if parsed is None:
        with pytest.raises(PropertySyntaxError):
            parse_line(line)
    else:
        assert parse_line(line) == parsed


@pytest.mark.parametrize("line", ["", "   ", "# comment", "   # indented comment", "\r"])
def test_blank_and_comment_lines_set_nothing(line: str) -> None:
    assert parse_line(line) is None


def test_line_without_equals_is_an_error() -> None:
    with pytest.raises(
        PropertySyntaxError, match=r"expected Key=Value, found `Ice.Trace' \(no '='\)"
    ):
        parse_line("Ice.Trace")


def test_equals_without_key_is_an_error() -> None:
    with pytest.raises(PropertySyntaxError, match="no key before '='"):
        parse_line("  = value")


# ------------------------------------------------------------------------------ variables


def test_variable_is_taken_from_the_environment() -> None:
    assert expand_variables("${HOME}/x", {"HOME": "/home/me"}) == "/home/me/x"


def test_double_dollar_is_a_literal_dollar() -> None:
    assert expand_variables("$${omero.name}", {}) == "${omero.name}"


def test_dollar_not_followed_by_brace_is_kept() -> None:
    assert expand_variables("$6$salt$hash $", {}) == "$6$salt$hash $"


@pytest.mark.parametrize(
    ("value", "message", "variable"),
    [
        ("${NOPE}", "undefined variable ${NOPE}", "NOPE"),
        ("${", "unterminated `${'", ""),
        ("${A-B}", "invalid variable name `${A-B}'", "A-B"),
        ("${}", "invalid variable name `${}'", ""),
    ],
)
def test_bad_variable_reference_names_the_variable(value: str, message: str, variable: str) -> None:
    with pytest.raises(VariableError) as caught:
        expand_variables(value, {})
    assert message in str(caught.value)
    assert caught.value.variable == variable


def test_undefined_variable_in_a_file_names_file_line_key_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "a.cfg", "# top\nIceGrid.Node.Data=${SITE_DATA}/node1\n")
    with pytest.raises(ConfigError) as caught:
        load_file(path, environ={})
    assert str(caught.value) == f"{path}:2: IceGrid.Node.Data: undefined variable ${{SITE_DATA}}"
    assert (caught.value.file, caught.value.line, caught.value.key) == (
        str(path),
        2,
        "IceGrid.Node.Data",
    )
    assert "SITE_DATA" in caught.value.hint and "$$" in caught.value.hint


# ------------------------------------------------------------------------------ files


def test_file_values_record_their_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "master.cfg", "# registry\n\nIceGrid.Node.Name=master\nA.b = ${X}\n")
    properties = load_file(path, environ={"X": "y"})
    assert properties.as_dict() == {"IceGrid.Node.Name": "master", "A.b": "y"}
    assert properties.origin("IceGrid.Node.Name") == Origin(str(path), 3)
    assert properties.entry("A.b") == Property("A.b", "y", Origin(str(path), 4))
    assert str(properties.origin("A.b")) == f"{path}:4"


def test_later_line_overrides_earlier_one(tmp_path: Path) -> None:
    path = write(tmp_path, "a.cfg", "K.k=1\nK.k=2\n")
    properties = load_file(path, environ={})
    assert properties.get("K.k") == "2"
    assert properties.origin("K.k") == Origin(str(path), 2)


def test_empty_value_removes_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "a.cfg", "K.k=1\nK.k=\n")
    properties = load_file(path, environ={})
    assert "K.k" not in properties
    assert properties.get("K.k", "default") == "default"


def test_syntax_error_in_a_file_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.cfg", "A.a=1\nIce.Trace.Network\n")
    with pytest.raises(ConfigError) as caught:
        load_file(path, environ={})
    assert str(caught.value).startswith(f"{path}:2: expected Key=Value")
    assert caught.value.line == 2


def test_utf8_bom_is_skipped_and_crlf_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "win.cfg"
    path.write_bytes(b"\xef\xbb\xbfA.a=1\r\nB.b=\xc3\xa9\r\n")
    assert load_file(path, environ={}).as_dict() == {"A.a": "1", "B.b": "é"}


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.cfg"
    path.write_bytes(b"A.a=1\nB.b=\xff\n")
    with pytest.raises(ConfigError, match=r"bad\.cfg:2: not valid UTF-8"):
        load_file(path, environ={})


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_file(tmp_path / "nope.cfg", environ={})
    assert (
        str(caught.value)
        == f"{tmp_path / 'nope.cfg'}: cannot read property file: No such file or directory"
    )


# ------------------------------------------------------------------------------ includes


def test_ice_config_in_a_file_includes_files_relative_to_it(tmp_path: Path) -> None:
    write(tmp_path, "etc/base.cfg", "A.a=base\nB.b=base\n")
    write(tmp_path, "etc/more.cfg", "C.c=more\n")
    top = write(tmp_path, "etc/top.cfg", "Ice.Config = base.cfg, more.cfg\nB.b=top\n")
    properties = load_file(top, environ={})
    assert properties.as_dict() == {"A.a": "base", "B.b": "top", "C.c": "more"}
    assert properties.origin("A.a") == Origin(str(tmp_path / "etc" / "base.cfg"), 1)
    assert "Ice.Config" not in properties


def test_included_file_overrides_lines_before_the_include(tmp_path: Path) -> None:
    write(tmp_path, "base.cfg", "B.b=base\n")
    top = write(tmp_path, "top.cfg", "B.b=top\nIce.Config=base.cfg\n")
    assert load_file(top, environ={}).get("B.b") == "base"


def test_absolute_and_variable_include_paths(tmp_path: Path) -> None:
    base = write(tmp_path, "conf/base.cfg", "A.a=1\n")
    top = write(tmp_path, "top.cfg", f"Ice.Config={base}\nIce.Config=${{D}}/base.cfg\n")
    assert load_file(top, environ={"D": str(tmp_path / "conf")}).get("A.a") == "1"


def test_include_cycle_is_an_error_naming_the_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.cfg", "Ice.Config=b.cfg\n")
    b = write(tmp_path, "b.cfg", "X.x=1\n\nIce.Config=a.cfg\n")
    with pytest.raises(ConfigError) as caught:
        load_file(a, environ={})
    assert str(caught.value).startswith(
        f"{b}:3: Ice.Config: Ice.Config include cycle: {a} -> {b} -> {a}"
    )


def test_file_including_itself_is_a_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.cfg", "Ice.Config=./a.cfg\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_file(a, environ={})


def test_same_file_included_twice_without_cycle_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "common.cfg", "A.a=1\n")
    top = write(tmp_path, "top.cfg", "Ice.Config=common.cfg,common.cfg\n")
    assert load_file(top, environ={}).get("A.a") == "1"


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    top = write(tmp_path, "top.cfg", "\nIce.Config=gone.cfg\n")
    with pytest.raises(ConfigError) as caught:
        load_file(top, environ={})
    assert str(caught.value).startswith(
        f"{top}:2: Ice.Config: cannot read included file {tmp_path / 'gone.cfg'}"
    )


def test_include_list_with_unbalanced_quote_is_an_error(tmp_path: Path) -> None:
    top = write(tmp_path, "top.cfg", "Ice.Config='a.cfg\n")
    with pytest.raises(ConfigError, match=r"top.cfg:1: Ice.Config: mismatched quotes"):
        load_file(top, environ={})


# ------------------------------------------------------------------------------ command line


def test_command_line_overrides_files_whatever_the_order(tmp_path: Path) -> None:
    write(
        tmp_path, "etc/internal.cfg", "Ice.Default.Locator=IceGrid/Locator:tcp -p 4061\nA.a=file\n"
    )
    properties, remaining = parse_command_line(
        ["--A.a=cli", "node1", "--Ice.Config=etc/internal.cfg", "start", "-v"],
        cwd=tmp_path,
        environ={},
    )
    assert remaining == ["node1", "start", "-v"]
    assert properties.get("A.a") == "cli"
    assert properties.origin("A.a") is COMMAND_LINE
    assert properties.get("Ice.Config") == "etc/internal.cfg"
    assert properties.origin("Ice.Default.Locator") == Origin(str(tmp_path / "etc/internal.cfg"), 1)


def test_several_ice_config_arguments_load_in_order(tmp_path: Path) -> None:
    write(tmp_path, "a.cfg", "K.k=a\n")
    write(tmp_path, "b.cfg", "K.k=b\n")
    properties, _ = parse_command_line(
        ["--Ice.Config=a.cfg", "--Ice.Config=b.cfg"], cwd=tmp_path, environ={}
    )
    assert properties.get("K.k") == "b"


def test_flag_without_value_means_one_and_empty_value_clears(tmp_path: Path) -> None:
    write(tmp_path, "a.cfg", "Ice.Default.Router=R/router:tcp -p 1\n")
    properties, _ = parse_command_line(
        ["--Ice.Config=a.cfg", "--IceGrid.Registry.DynamicRegistration", "--Ice.Default.Router="],
        cwd=tmp_path,
        environ={},
    )
    assert properties.get_bool("IceGrid.Registry.DynamicRegistration") is True
    assert "Ice.Default.Router" not in properties


def test_non_property_arguments_and_everything_after_double_dash_are_left(tmp_path: Path) -> None:
    properties, remaining = parse_command_line(
        ["--help", "--dry-run=1", "-x", "--", "--A.a=1", "--9.x=1"], cwd=tmp_path, environ={}
    )
    assert len(properties) == 0
    assert remaining == ["--help", "--dry-run=1", "-x", "--", "--A.a=1", "--9.x=1"]


def test_command_line_values_use_file_syntax_but_no_variables(tmp_path: Path) -> None:
    properties, _ = parse_command_line(
        ["--omero.pass=a\\#b # comment", "--X.y=${HOME}"], cwd=tmp_path, environ={}
    )
    assert properties.get("omero.pass") == "a#b"
    assert properties.get("X.y") == "${HOME}"


def test_config_variable_is_used_when_no_ice_config_argument(tmp_path: Path) -> None:
    write(tmp_path, "server.cfg", "A.a=1\n")
    environ = {"SHOAL_CONFIG": str(tmp_path / "server.cfg")}
    properties, _ = parse_command_line([], environ=environ, config_variable="SHOAL_CONFIG")
    assert properties.get("A.a") == "1"
    nothing, _ = parse_command_line([], environ=environ)
    assert len(nothing) == 0


def test_missing_command_line_config_file_says_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_command_line(["--Ice.Config=etc/nope.cfg"], cwd=tmp_path, environ={})
    assert str(caught.value).startswith("command line: Ice.Config: cannot read included file")


def test_load_files_applies_files_then_overrides(tmp_path: Path) -> None:
    a = write(tmp_path, "a.cfg", "K.k=a\nL.l=a\n")
    b = write(tmp_path, "b.cfg", "K.k=b\n")
    properties = load_files([a, b], ["--L.l=cli"], environ={})
    assert properties.as_dict() == {"Ice.Config": f"{a},{b}", "K.k": "b", "L.l": "cli"}


def test_load_files_refuses_non_property_overrides(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="`start' is not a property override"):
        load_files([], ["start"], environ={})
    with pytest.raises(ConfigError, match=r"command line: Ice.Config: cannot be overridden"):
        load_files([], ["--Ice.Config=x.cfg"], environ={})


def test_loaders_default_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOAL_TEST_VALUE", "from-env")
    path = write(tmp_path, "a.cfg", "A.a=${SHOAL_TEST_VALUE}\n")
    monkeypatch.chdir(tmp_path)
    assert load_file(path).get("A.a") == "from-env"
    properties, _ = parse_command_line(["--Ice.Config=a.cfg"])
    assert properties.get("A.a") == "from-env"


# ------------------------------------------------------------------------------ Properties


def props(tmp_path: Path, text: str) -> tuple[Properties, Path]:
    path = write(tmp_path, "p.cfg", text)
    return load_file(path, environ={}), path


def test_properties_is_a_read_only_keyed_view(tmp_path: Path) -> None:
    properties, _ = props(tmp_path, "B.b=2\nA.a=1\nA.c=3\n")
    assert list(properties) == ["A.a", "A.c", "B.b"]
    assert len(properties) == 3 and "A.a" in properties and "Z.z" not in properties
    assert [e.key for e in properties.entries()] == ["A.a", "A.c", "B.b"]
    assert properties.for_prefix("A.") == {"A.a": "1", "A.c": "3"}
    assert properties.command_line_options() == ["--A.a=1", "--A.c=3", "--B.b=2"]
    assert properties.entry("Z.z") is None and properties.origin("Z.z") is None
    assert repr(properties) == "Properties({'A.a': '1', 'A.c': '3', 'B.b': '2'})"


def test_properties_compare_values_and_origins() -> None:
    one = Properties.from_mapping({"A.a": "1", "B.b": ""})
    assert one == Properties.from_mapping({"A.a": "1"})
    assert hash(one) == hash(Properties.from_mapping({"A.a": "1"}))
    assert one != Properties.from_mapping({"A.a": "1"}, Origin("f.cfg", 1))
    assert one != {"A.a": "1"}


def test_merged_overrides_win_and_keep_their_origin(tmp_path: Path) -> None:
    base, path = props(tmp_path, "A.a=1\nB.b=1\n")
    merged = base.merged(Properties.from_mapping({"B.b": "2"}))
    assert merged.as_dict() == {"A.a": "1", "B.b": "2"}
    assert merged.origin("A.a") == Origin(str(path), 1)
    assert merged.origin("B.b") is COMMAND_LINE


def test_require_names_the_missing_key() -> None:
    properties = Properties.from_mapping({"A.a": "1"})
    assert properties.require("A.a") == "1"
    with pytest.raises(ConfigError, match=r"^IceGrid.Node.Name: required property is not set$"):
        properties.require("IceGrid.Node.Name")


def test_get_int_reads_ice_integers(tmp_path: Path) -> None:
    properties, path = props(
        tmp_path, "A.a=42\nA.b=-7\nA.c=+3\nA.d=4x\nA.e=99999999999\nA.f=0x10\n"
    )
    assert (properties.get_int("A.a"), properties.get_int("A.b"), properties.get_int("A.c")) == (
        42,
        -7,
        3,
    )
    assert properties.get_int("Z.z", 5) == 5
    for key, line in [("A.d", 4), ("A.e", 5), ("A.f", 6)]:
        with pytest.raises(ConfigError) as caught:
            properties.get_int(key)
        assert str(caught.value).startswith(f"{path}:{line}: {key}: expected an integer, got `")


def test_get_bool_is_an_integer_other_than_zero(tmp_path: Path) -> None:
    properties, path = props(tmp_path, "A.on=1\nA.two=2\nA.off=0\nA.word=true\n")
    assert properties.get_bool("A.on") and properties.get_bool("A.two")
    assert properties.get_bool("A.off") is False
    assert properties.get_bool("Z.z", True) is True
    with pytest.raises(ConfigError) as caught:
        properties.get_bool("A.word")
    assert str(caught.value) == f"{path}:4: A.word: expected 0 or 1, got `true'"
    assert "write 1 (on) or 0 (off)" in caught.value.hint


def test_message_size_max_is_kilobytes_returned_as_bytes(tmp_path: Path) -> None:
    properties, path = props(
        tmp_path, "Ice.MessageSizeMax=250000\nA.zero=0\nA.huge=2147483647\nA.word=big\n"
    )
    assert properties.get_size_kb("Ice.MessageSizeMax") == 250000 * 1024
    assert Properties().get_size_kb("Ice.MessageSizeMax") == DEFAULT_MESSAGE_SIZE_MAX_KB * 1024
    assert properties.get_size_kb("A.huge") == 0x7FFFFFFF
    with pytest.raises(
        ConfigError, match=f"{path}:2: A.zero: expected a positive size in KB, got `0'"
    ):
        properties.get_size_kb("A.zero")
    with pytest.raises(ConfigError, match=r"A.word: expected a positive size in KB, got `big'"):
        properties.get_size_kb("A.word")
    with pytest.raises(
        ConfigError, match=r"^Z.z: expected a positive size in KB, got `0' \(default value\)"
    ):
        properties.get_size_kb("Z.z", 0)


def test_get_list_splits_on_whitespace_and_commas_with_quotes(tmp_path: Path) -> None:
    properties, path = props(
        tmp_path, "A.a=ProcessCallback ProcessorCallback, x\nA.b='a b',c\nA.c=' '\nA.d='x\n"
    )
    assert properties.get_list("A.a") == ("ProcessCallback", "ProcessorCallback", "x")
    assert properties.get_list("A.b") == ("a b", "c")
    assert properties.get_list("A.c") == (" ",)
    assert properties.get_list("Z.z", ["d"]) == ("d",)
    with pytest.raises(ConfigError, match=f"{path}:4: A.d: mismatched quotes"):
        properties.get_list("A.d")


def test_get_list_of_only_separators_is_the_default(tmp_path: Path) -> None:
    properties, _ = props(tmp_path, "A.a=\\ , ,\n")
    assert properties.get_list("A.a", ["d"]) == ("d",)


def test_get_endpoints_parses_and_resolves_with_default_host(tmp_path: Path) -> None:
    properties, _ = props(
        tmp_path,
        "Ice.Default.Host=10.0.0.5\n"
        "IceGrid.Registry.Client.Endpoints=tcp -p 4061:ssl -h * -p 4064\n",
    )
    key = "IceGrid.Registry.Client.Endpoints"
    assert properties.get_endpoints(key) == (
        Endpoint("tcp", port=4061),
        Endpoint("ssl", host="*", port=4064),
    )
    assert properties.get_endpoints(key, for_server=True) == (
        Endpoint("tcp", host="10.0.0.5", port=4061),
        Endpoint("ssl", host=ANY_HOST, port=4064),
    )
    assert properties.get_endpoints("Z.z") == ()
    assert properties.get_endpoints("Z.z", "tcp", for_server=True) == (
        Endpoint("tcp", host="10.0.0.5", port=0),
    )


def test_malformed_endpoint_names_file_line_and_key(tmp_path: Path) -> None:
    properties, path = props(tmp_path, "# node\nIceGrid.Node.Endpoints=tcp -p 99999\n")
    with pytest.raises(ConfigError) as caught:
        properties.get_endpoints("IceGrid.Node.Endpoints")
    assert str(caught.value) == (
        f"{path}:2: IceGrid.Node.Endpoints: bad endpoint: "
        "port value `99999' out of range in endpoint `tcp -p 99999'"
    )
    assert caught.value.hint


def test_client_endpoint_without_port_fails_at_its_line(tmp_path: Path) -> None:
    properties, path = props(tmp_path, "A.endpoints=tcp -h master\n")
    with pytest.raises(ConfigError, match=f"{path}:1: A.endpoints: bad endpoint: no port"):
        properties.get_endpoints("A.endpoints", for_server=False)


def test_get_proxy_resolves_for_connecting(tmp_path: Path) -> None:
    properties, path = props(
        tmp_path,
        "Ice.Default.Locator=IceGrid/Locator:tcp -p 4061\n"
        "IceGrid.Registry.AdminPermissionsVerifier=IceGrid/NullPermissionsVerifier\n"
        "Ice.Default.Router=OMERO.Glacier2/router:tcp -h master\n",
    )
    locator = properties.get_proxy("Ice.Default.Locator")
    assert locator is not None
    assert locator.identity == Identity("Locator", "IceGrid")
    assert locator.endpoints == (Endpoint("tcp", host="127.0.0.1", port=4061),)
    unresolved = properties.get_proxy("Ice.Default.Locator", "", resolve=False)
    assert unresolved.endpoints == (Endpoint("tcp", port=4061),)
    verifier = properties.get_proxy("IceGrid.Registry.AdminPermissionsVerifier")
    assert verifier is not None and verifier.is_well_known
    assert properties.get_proxy("Z.z") is None
    assert properties.get_proxy("Z.z", "BlitzVerifier@BlitzAdapters").adapter_id == "BlitzAdapters"
    with pytest.raises(ConfigError) as caught:
        properties.get_proxy("Ice.Default.Router")
    assert str(caught.value).startswith(f"{path}:3: Ice.Default.Router: bad proxy: no port")


def test_malformed_proxy_names_file_line_and_key(tmp_path: Path) -> None:
    properties, path = props(tmp_path, "Ice.Default.Locator=IceGrid/Locator -q\n")
    with pytest.raises(
        ConfigError, match=f"{path}:1: Ice.Default.Locator: bad proxy: unknown option `-q'"
    ):
        properties.get_proxy("Ice.Default.Locator")


def test_get_path_is_relative_to_the_site(tmp_path: Path) -> None:
    properties, _ = props(tmp_path, "IceGrid.Registry.Data=var/registry\nA.abs=/srv/data\n")
    site = Path("/opt/site")
    assert properties.get_path("IceGrid.Registry.Data", site) == site / "var/registry"
    assert properties.get_path("A.abs", site) == Path("/srv/data")
    assert properties.get_path("Z.z", site) is None
    assert properties.get_path("Z.z", site, "var/log") == site / "var/log"


def test_get_path_refuses_nul(tmp_path: Path) -> None:
    properties = Properties([Property("A.nul", "a\0b", Origin("p.cfg", 7))])
    with pytest.raises(ConfigError, match=r"p.cfg:7: A.nul: a path cannot contain a NUL"):
        properties.get_path("A.nul", tmp_path)


# ------------------------------------------------------------------------------ the table


def test_names_from_the_seed_and_omero_files_are_known() -> None:
    for key in [
        "Ice.Default.Locator",
        "Ice.Default.Router",
        "Ice.MessageSizeMax",
        "Ice.CacheMessageBuffers",
        "Ice.Override.ConnectTimeout",
        "Ice.ImplicitContext",
        "Ice.IPv6",
        "Ice.ThreadPool.Server.SizeMax",
        "Ice.Admin.Endpoints",
        "IceGrid.Registry.Client.Endpoints",
        "IceGrid.Registry.Data",
        "IceGrid.Registry.AdminPermissionsVerifier",
        "IceGrid.Node.CollocateRegistry",
        "IceGrid.Node.Output",
        "IceSSL.CertFile",
        "Glacier2.Client.ForwardContext",
        "Ice.Default.Locator.Context.user",
        "Ice.Plugin.IceSSL",
        "IceBox.Service.OMERO.IceStorm",
    ]:
        assert is_ice_property(key), key
    assert SHOAL_PROPERTIES <= ICE_PROPERTIES


def test_other_prefixes_are_always_allowed() -> None:
    assert is_ice_property("omero.data.dir") and is_shoal_property("omero.data.dir")
    assert is_ice_property("IceGridAdmin.Username")
    assert is_ice_property("NoDot")


def test_prefix_only_class_names_are_not_properties() -> None:
    assert not is_ice_property("Ice.ThreadPool.Server")
    assert is_ice_property("Ice.Default.Locator")


def test_unknown_property_gets_a_did_you_mean(tmp_path: Path) -> None:
    properties, path = props(
        tmp_path,
        "Ice.MesageSizeMax=1\nicegrid.node.name=x\nIceGrid.node.Name=x\nIceSSL.Zzzzzzzzzz=1\nomero.x=1\n",
    )
    unknown = unknown_properties(properties)
    assert [(u.key, u.origin.line, u.suggestion) for u in unknown] == [
        ("Ice.MesageSizeMax", 1, "Ice.MessageSizeMax"),
        ("IceGrid.node.Name", 3, "IceGrid.Node.Name"),
        ("IceSSL.Zzzzzzzzzz", 4, None),
    ]
    assert unknown[0].origin == Origin(str(path), 1)


def test_suggestion_prefers_a_case_only_difference() -> None:
    assert suggest("ICE.DEFAULT.HOST") == "Ice.Default.Host"


def test_ignored_properties_are_ice_names_shoal_does_not_read() -> None:
    properties = Properties.from_mapping(
        {
            "Ice.CacheMessageBuffers": "0",
            "Ice.MessageSizeMax": "1",
            "omero.x": "1",
            "Ice.Bogus": "1",
        }
    )
    assert ignored_properties(properties) == [("Ice.CacheMessageBuffers", COMMAND_LINE)]


def test_escaped_quote_in_a_list_is_kept(tmp_path: Path) -> None:
    properties, _ = props(tmp_path, 'A.a=it\\"s "a \\" b"\n')
    assert properties.get_list("A.a") == ('it"s', 'a " b')


def test_empty_names_in_an_include_list_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.cfg", "A.a=1\n")
    top = write(tmp_path, "top.cfg", "Ice.Config=a.cfg, ,,a.cfg\n")
    assert load_file(top, environ={}).get("A.a") == "1"


def test_argument_that_is_no_key_value_once_parsed_is_left_alone(tmp_path: Path) -> None:
    properties, remaining = parse_command_line(["--A.b#c", "--A.b\\=c"], cwd=tmp_path, environ={})
    assert len(properties) == 0
    assert remaining == ["--A.b#c", "--A.b\\=c"]
