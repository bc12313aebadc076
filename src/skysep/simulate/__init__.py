"""Traffic simulator: scenario files in, position reports out (``skysep simulate``).

A scenario (TOML, ``docs/simulate.md``) names the parties, aircraft flying
patterns (patrol, orbit, tanker, transit) and scripted encounters (crossing,
head-on, climbing through, near miss). :func:`simulate` turns it into
position reports, tick by tick, with no I/O; :func:`write_reports` writes
them to a track file ``skysep replay`` reads, and :mod:`skysep.simulate.feed`
sends them to the SkySep service.

>>> from skysep.simulate import builtin_scenario, simulate_tracks
>>> tracks = simulate_tracks(builtin_scenario(), duration_s=60)
>>> sorted(set(tracks.party))
['north', 'south']
"""

from skysep.errors import FeedError, SimulateError
from skysep.simulate._generate import (
    CHUNK_TICKS,
    Batch,
    Flight,
    concat,
    flights,
    simulate,
    simulate_tracks,
)
from skysep.simulate._scenario import (
    BUILTIN_SCENARIOS,
    DIRECTIONS,
    ENCOUNTERS,
    PATTERN_KEYS,
    PATTERNS,
    Aircraft,
    Area,
    Encounter,
    EncounterAircraft,
    Noise,
    Orbit,
    Patrol,
    Point,
    Scenario,
    ScenarioParty,
    Tanker,
    Transit,
    builtin_scenario,
    builtin_scenario_text,
    load_scenario,
    loads_scenario,
    scenario_from_mapping,
    turn_radius_m,
    turn_rate_rad_per_s,
)
from skysep.simulate.output import COLUMNS, OUTPUT_FORMATS, reports_table, write_reports

__all__ = [
    "BUILTIN_SCENARIOS",
    "CHUNK_TICKS",
    "COLUMNS",
    "DIRECTIONS",
    "ENCOUNTERS",
    "OUTPUT_FORMATS",
    "PATTERNS",
    "PATTERN_KEYS",
    "Aircraft",
    "Area",
    "Batch",
    "Encounter",
    "EncounterAircraft",
    "FeedError",
    "Flight",
    "Noise",
    "Orbit",
    "Patrol",
    "Point",
    "Scenario",
    "ScenarioParty",
    "SimulateError",
    "Tanker",
    "Transit",
    "builtin_scenario",
    "builtin_scenario_text",
    "concat",
    "flights",
    "load_scenario",
    "loads_scenario",
    "reports_table",
    "scenario_from_mapping",
    "simulate",
    "simulate_tracks",
    "turn_radius_m",
    "turn_rate_rad_per_s",
    "write_reports",
]
