from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODING_UNSPECIFIED: _ClassVar[Encoding]
    ENCODING_RAW_RGB: _ClassVar[Encoding]
    ENCODING_PNG: _ClassVar[Encoding]
    ENCODING_JPEG: _ClassVar[Encoding]
ENCODING_UNSPECIFIED: Encoding
ENCODING_RAW_RGB: Encoding
ENCODING_PNG: Encoding
ENCODING_JPEG: Encoding

class GenerateRequest(_message.Message):
    __slots__ = ("scenario_yaml", "seed", "encoding", "overrides", "filename")
    SCENARIO_YAML_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    scenario_yaml: str
    seed: int
    encoding: Encoding
    overrides: ScenarioOverrides
    filename: str
    def __init__(self, scenario_yaml: _Optional[str] = ..., seed: _Optional[int] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., overrides: _Optional[_Union[ScenarioOverrides, _Mapping]] = ..., filename: _Optional[str] = ...) -> None: ...

class ScenarioOverrides(_message.Message):
    __slots__ = ("duration_s", "fps", "time_of_day", "crowdedness")
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    TIME_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    CROWDEDNESS_FIELD_NUMBER: _ClassVar[int]
    duration_s: float
    fps: float
    time_of_day: str
    crowdedness: float
    def __init__(self, duration_s: _Optional[float] = ..., fps: _Optional[float] = ..., time_of_day: _Optional[str] = ..., crowdedness: _Optional[float] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("index", "timestamp_s", "width", "height", "encoding", "data", "boxes", "environment")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_S_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    index: int
    timestamp_s: float
    width: int
    height: int
    encoding: Encoding
    data: bytes
    boxes: _containers.RepeatedCompositeFieldContainer[Box]
    environment: Environment
    def __init__(self, index: _Optional[int] = ..., timestamp_s: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., data: _Optional[bytes] = ..., boxes: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("track_id", "type", "x1", "y1", "x2", "y2", "truncation", "occlusion", "location_m", "size_m", "rotation_y", "distance_m")
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    X2_FIELD_NUMBER: _ClassVar[int]
    Y2_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    OCCLUSION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_M_FIELD_NUMBER: _ClassVar[int]
    SIZE_M_FIELD_NUMBER: _ClassVar[int]
    ROTATION_Y_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    track_id: str
    type: str
    x1: float
    y1: float
    x2: float
    y2: float
    truncation: float
    occlusion: float
    location_m: Vector3
    size_m: Dimensions
    rotation_y: float
    distance_m: float
    def __init__(self, track_id: _Optional[str] = ..., type: _Optional[str] = ..., x1: _Optional[float] = ..., y1: _Optional[float] = ..., x2: _Optional[float] = ..., y2: _Optional[float] = ..., truncation: _Optional[float] = ..., occlusion: _Optional[float] = ..., location_m: _Optional[_Union[Vector3, _Mapping]] = ..., size_m: _Optional[_Union[Dimensions, _Mapping]] = ..., rotation_y: _Optional[float] = ..., distance_m: _Optional[float] = ...) -> None: ...

class Vector3(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class Dimensions(_message.Message):
    __slots__ = ("length", "width", "height")
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    length: float
    width: float
    height: float
    def __init__(self, length: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("time_of_day", "crowdedness")
    TIME_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    CROWDEDNESS_FIELD_NUMBER: _ClassVar[int]
    time_of_day: str
    crowdedness: float
    def __init__(self, time_of_day: _Optional[str] = ..., crowdedness: _Optional[float] = ...) -> None: ...

class ValidateRequest(_message.Message):
    __slots__ = ("scenario_yaml", "filename")
    SCENARIO_YAML_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    scenario_yaml: str
    filename: str
    def __init__(self, scenario_yaml: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ValidateResponse(_message.Message):
    __slots__ = ("valid", "issues", "scenario_name", "num_frames")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    issues: _containers.RepeatedCompositeFieldContainer[Issue]
    scenario_name: str
    num_frames: int
    def __init__(self, valid: _Optional[bool] = ..., issues: _Optional[_Iterable[_Union[Issue, _Mapping]]] = ..., scenario_name: _Optional[str] = ..., num_frames: _Optional[int] = ...) -> None: ...

class Issue(_message.Message):
    __slots__ = ("line", "column", "key_path", "message", "hint", "file")
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    KEY_PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    line: int
    column: int
    key_path: str
    message: str
    hint: str
    file: str
    def __init__(self, line: _Optional[int] = ..., column: _Optional[int] = ..., key_path: _Optional[str] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ..., file: _Optional[str] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("header", "step")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    header: SessionHeader
    step: SessionStep
    def __init__(self, header: _Optional[_Union[SessionHeader, _Mapping]] = ..., step: _Optional[_Union[SessionStep, _Mapping]] = ...) -> None: ...

class SessionHeader(_message.Message):
    __slots__ = ("scenario_yaml", "seed", "encoding", "filename")
    SCENARIO_YAML_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    scenario_yaml: str
    seed: int
    encoding: Encoding
    filename: str
    def __init__(self, scenario_yaml: _Optional[str] = ..., seed: _Optional[int] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., filename: _Optional[str] = ...) -> None: ...

class SessionStep(_message.Message):
    __slots__ = ("agents", "environment", "ego", "timestamps_s", "num_frames")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    EGO_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_S_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentState]
    environment: EnvironmentUpdate
    ego: EgoState
    timestamps_s: _containers.RepeatedScalarFieldContainer[float]
    num_frames: int
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentState, _Mapping]]] = ..., environment: _Optional[_Union[EnvironmentUpdate, _Mapping]] = ..., ego: _Optional[_Union[EgoState, _Mapping]] = ..., timestamps_s: _Optional[_Iterable[float]] = ..., num_frames: _Optional[int] = ...) -> None: ...

class AgentState(_message.Message):
    __slots__ = ("id", "type", "lateral_m", "x_m", "distance_m", "speed_mps", "size_m", "heading_rad", "pose")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LATERAL_M_FIELD_NUMBER: _ClassVar[int]
    X_M_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    SIZE_M_FIELD_NUMBER: _ClassVar[int]
    HEADING_RAD_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    lateral_m: float
    x_m: float
    distance_m: float
    speed_mps: float
    size_m: Dimensions
    heading_rad: float
    pose: Pose
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., lateral_m: _Optional[float] = ..., x_m: _Optional[float] = ..., distance_m: _Optional[float] = ..., speed_mps: _Optional[float] = ..., size_m: _Optional[_Union[Dimensions, _Mapping]] = ..., heading_rad: _Optional[float] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ...) -> None: ...

class Pose(_message.Message):
    __slots__ = ("x", "y", "z", "heading", "pitch")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    HEADING_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    heading: float
    pitch: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ..., heading: _Optional[float] = ..., pitch: _Optional[float] = ...) -> None: ...

class EnvironmentUpdate(_message.Message):
    __slots__ = ("time_of_day", "crowdedness")
    TIME_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    CROWDEDNESS_FIELD_NUMBER: _ClassVar[int]
    time_of_day: str
    crowdedness: float
    def __init__(self, time_of_day: _Optional[str] = ..., crowdedness: _Optional[float] = ...) -> None: ...

class EgoState(_message.Message):
    __slots__ = ("speed_mps", "lateral_m", "pose")
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    LATERAL_M_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    speed_mps: float
    lateral_m: float
    pose: Pose
    def __init__(self, speed_mps: _Optional[float] = ..., lateral_m: _Optional[float] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("step", "last_in_step", "ready", "frame")
    STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_IN_STEP_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    step: int
    last_in_step: bool
    ready: SessionReady
    frame: Frame
    def __init__(self, step: _Optional[int] = ..., last_in_step: _Optional[bool] = ..., ready: _Optional[_Union[SessionReady, _Mapping]] = ..., frame: _Optional[_Union[Frame, _Mapping]] = ...) -> None: ...

class SessionReady(_message.Message):
    __slots__ = ("session_id", "width", "height", "fps")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    width: int
    height: int
    fps: float
    def __init__(self, session_id: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., fps: _Optional[float] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Info(_message.Message):
    __slots__ = ("backend", "bundle", "bundle_hash", "native_width", "native_height", "limits", "versions", "arithmetic")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ArithmeticEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_HASH_FIELD_NUMBER: _ClassVar[int]
    NATIVE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    NATIVE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ARITHMETIC_FIELD_NUMBER: _ClassVar[int]
    backend: str
    bundle: str
    bundle_hash: str
    native_width: int
    native_height: int
    limits: Limits
    versions: _containers.ScalarMap[str, str]
    arithmetic: _containers.ScalarMap[str, str]
    def __init__(self, backend: _Optional[str] = ..., bundle: _Optional[str] = ..., bundle_hash: _Optional[str] = ..., native_width: _Optional[int] = ..., native_height: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., versions: _Optional[_Mapping[str, str]] = ..., arithmetic: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_sessions", "max_streams", "max_duration_s", "max_pixels", "max_message_bytes", "max_frames_per_step", "max_agents_per_step")
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    MAX_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAMES_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_AGENTS_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    max_sessions: int
    max_streams: int
    max_duration_s: float
    max_pixels: int
    max_message_bytes: int
    max_frames_per_step: int
    max_agents_per_step: int
    def __init__(self, max_sessions: _Optional[int] = ..., max_streams: _Optional[int] = ..., max_duration_s: _Optional[float] = ..., max_pixels: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_frames_per_step: _Optional[int] = ..., max_agents_per_step: _Optional[int] = ...) -> None: ...
