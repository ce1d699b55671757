"""A Rasa training-data importer that turns knowledge topics into intents, examples and rules.

Staff write example questions in `knowledge/topics/*.md`; this importer hands Rasa one intent per topic
(`topic_<id>`), trained on that topic's questions (minus the held-out evaluation split), and one rule per
topic that answers it with `action_answer_topic`. Nothing is copied into `data/nlu/` by hand, and
`rasa train`, `rasa data validate` and `rasa test` all see the same data because they read the importers
listed in config.yml.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph
from rasa.shared.exceptions import RasaException
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import settings

ANSWER_ACTION = "action_answer_topic"


def topic_training_data(knowledge_dir: Path) -> dict[str, list[str]]:
    """{intent: training examples} for every topic; raises when the knowledge files have problems."""
    from bot.knowledge.loader import load_knowledge
    from bot.knowledge.training import training_examples

    knowledge, problems = load_knowledge(knowledge_dir)
    if problems:
        listed = "\n".join(str(p) for p in problems[:20])
        raise RasaException(f"The knowledge files have problems; fix them before training:\n{listed}")
    return training_examples(knowledge.topics)


def interruption_rules(intents: list[str], forms: list[str]) -> list[dict[str, Any]]:
    """For every form and topic: a question asked mid-form is answered, then the form resumes where it was."""
    return [
        {
            "rule": f"answer {intent} during {form}",
            "condition": [{"active_loop": form}],
            "steps": [{"intent": intent}, {"action": ANSWER_ACTION}, {"action": form}, {"active_loop": form}],
        }
        for form in forms
        for intent in intents
    ]


class KnowledgeImporter(TrainingDataImporter):
    """Adds the knowledge topics' intents, examples and answer rules to the files Rasa reads itself."""

    def __init__(
        self,
        config_file: Optional[Text] = None,
        domain_path: Optional[Text] = None,
        training_data_paths: Optional[List[Text]] = None,
        knowledge_dir: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        self.knowledge_dir = Path(knowledge_dir) if knowledge_dir else settings.path("KNOWLEDGE_DIR")
        self.domain_path = domain_path

    @cached_property
    def _training(self) -> dict[str, list[str]]:
        return topic_training_data(self.knowledge_dir)

    def get_domain(self) -> Domain:
        return Domain.from_dict({"intents": sorted(self._training)})

    @cached_property
    def _form_names(self) -> list[str]:
        from bot.domain import DOMAIN_DIR, load_domain

        directory = Path(self.domain_path) if self.domain_path and Path(self.domain_path).is_dir() else DOMAIN_DIR
        return sorted(load_domain(directory).get("forms") or {})

    def get_stories(self, exclusion_percentage: Optional[int] = None) -> StoryGraph:
        rules = [
            {"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": ANSWER_ACTION}]}
            for intent in sorted(self._training)
        ]
        rules += interruption_rules(sorted(self._training), self._form_names)
        if not rules:
            return StoryGraph([])
        import yaml

        text = yaml.safe_dump({"version": "3.1", "rules": rules}, sort_keys=False)
        return StoryGraph(YAMLStoryReader(self.get_domain()).read_from_string(text))

    def get_conversation_tests(self) -> StoryGraph:
        return StoryGraph([])

    def get_config(self) -> Dict:
        return {}

    def get_config_file_for_auto_config(self) -> Optional[Text]:
        return None

    def get_nlu_data(self, language: Optional[Text] = "en") -> TrainingData:
        examples = [
            Message.build(text=question, intent=intent)
            for intent, questions in sorted(self._training.items())
            for question in questions
        ]
        return TrainingData(examples)
